//! A parser for the INI dialect read by oslo.config, so that an existing
//! `glance-api.conf` means the same thing to glint as it does to Glance.
//!
//! Differences from Python's `configparser` that matter here: repeated keys
//! accumulate instead of replacing each other (oslo's `MultiStrOpt` relies on
//! it), only unindented lines starting with `#` or `;` are comments, `%` has
//! no special meaning, and `[DEFAULT]` is not inherited by other sections.

use std::path::{Path, PathBuf};

use super::ConfigError;

/// The parsed contents of one or more INI files, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IniFile {
    sections: Vec<Section>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Section {
    name: String,
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    key: String,
    values: Vec<String>,
}

impl IniFile {
    /// Parses `text`; `path` only labels error messages.
    pub fn parse(text: &str, path: &Path) -> Result<IniFile, ConfigError> {
        let mut parser = Parser {
            path,
            file: IniFile::default(),
            section: None,
            pending: None,
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for (index, line) in text.lines().enumerate() {
            parser.line(index + 1, line)?;
        }
        parser.flush();
        Ok(parser.file)
    }

    /// The last value of `key` in `section`: single-valued options take the
    /// last assignment, across files as well as within one.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.entry(section, key)
            .and_then(|entry| entry.values.last())
            .map(String::as_str)
    }

    /// Every value assigned to `key` in `section`, in order.
    pub fn get_all(&self, section: &str, key: &str) -> &[String] {
        self.entry(section, key)
            .map_or(&[], |entry| entry.values.as_slice())
    }

    /// Section names in the order they first appeared, including empty ones.
    pub fn sections(&self) -> impl Iterator<Item = &str> {
        self.sections.iter().map(|section| section.name.as_str())
    }

    /// Every `(section, key)` pair that was assigned at least once.
    pub fn keys(&self) -> impl Iterator<Item = (&str, &str)> {
        self.sections.iter().flat_map(|section| {
            section
                .entries
                .iter()
                .map(|entry| (section.name.as_str(), entry.key.as_str()))
        })
    }

    /// Appends `other`'s assignments after this file's, so that a later file
    /// overrides single-valued options and extends multi-valued ones.
    pub fn merge(&mut self, other: IniFile) {
        for section in other.sections {
            self.add_section(&section.name);
            for entry in section.entries {
                for value in entry.values {
                    self.push(&section.name, &entry.key, value);
                }
            }
        }
    }

    /// This file with only the section `name` (matched as oslo.config
    /// matches group names: case-insensitively).
    pub fn only_section(self, name: &str) -> IniFile {
        IniFile {
            sections: self
                .sections
                .into_iter()
                .filter(|s| s.name.eq_ignore_ascii_case(name))
                .collect(),
        }
    }

    /// Renames sections the way oslo.config looks them up: group names are
    /// case-insensitive, except `DEFAULT` which must be written in capitals.
    pub fn with_oslo_group_names(self) -> IniFile {
        let mut normalized = IniFile::default();
        for mut section in self.sections {
            if section.name != "DEFAULT" {
                section.name = section.name.to_lowercase();
            }
            normalized.merge(IniFile {
                sections: vec![section],
            });
        }
        normalized
    }

    fn entry(&self, section: &str, key: &str) -> Option<&Entry> {
        self.sections
            .iter()
            .find(|candidate| candidate.name == section)?
            .entries
            .iter()
            .find(|entry| entry.key == key)
    }

    fn add_section(&mut self, name: &str) -> &mut Section {
        let index = match self.sections.iter().position(|s| s.name == name) {
            Some(index) => index,
            None => {
                self.sections.push(Section {
                    name: name.to_owned(),
                    entries: Vec::new(),
                });
                self.sections.len() - 1
            }
        };
        &mut self.sections[index]
    }

    fn push(&mut self, section: &str, key: &str, value: String) {
        let section = self.add_section(section);
        match section.entries.iter_mut().find(|entry| entry.key == key) {
            Some(entry) => entry.values.push(value),
            None => section.entries.push(Entry {
                key: key.to_owned(),
                values: vec![value],
            }),
        }
    }
}

/// An assignment whose value may still grow by continuation lines.
struct Pending {
    key: String,
    lines: Vec<String>,
}

struct Parser<'a> {
    path: &'a Path,
    file: IniFile,
    section: Option<String>,
    pending: Option<Pending>,
}

impl Parser<'_> {
    fn line(&mut self, number: usize, raw: &str) -> Result<(), ConfigError> {
        let line = raw.trim_end();
        if line.is_empty() {
            // A blank line ends a multi-line value, as in oslo.config.
            self.flush();
            return Ok(());
        }
        if line.starts_with([' ', '\t']) {
            let Some(pending) = self.pending.as_mut() else {
                return Err(self.error(number, "unexpected continuation line", line));
            };
            pending.lines.push(line.trim_start().to_owned());
            return Ok(());
        }
        self.flush();
        if line.starts_with('[') {
            self.section(number, line)
        } else if line.starts_with(['#', ';']) {
            Ok(())
        } else {
            self.assignment(number, line)
        }
    }

    fn section(&mut self, number: usize, line: &str) -> Result<(), ConfigError> {
        let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) else {
            return Err(self.error(number, "section header must end with ']'", line));
        };
        if name.is_empty() {
            return Err(self.error(number, "empty section name", line));
        }
        self.file.add_section(name);
        self.section = Some(name.to_owned());
        Ok(())
    }

    fn assignment(&mut self, number: usize, line: &str) -> Result<(), ConfigError> {
        // The first of '=' and ':' separates key from value, so URLs and
        // `key: value` both work.
        let Some(split) = line.find(['=', ':']) else {
            return Err(self.error(number, "no ':' or '=' found in assignment", line));
        };
        let key = line[..split].trim();
        if key.is_empty() {
            return Err(self.error(number, "key cannot be empty", line));
        }
        if self.section.is_none() {
            return Err(self.error(
                number,
                "a section must be started before an assignment",
                line,
            ));
        }
        self.pending = Some(Pending {
            key: key.to_owned(),
            lines: vec![unquote(line[split + 1..].trim()).to_owned()],
        });
        Ok(())
    }

    fn flush(&mut self) {
        if let (Some(pending), Some(section)) = (self.pending.take(), self.section.as_deref()) {
            self.file
                .push(section, &pending.key, pending.lines.join("\n"));
        }
    }

    fn error(&self, line: usize, message: &str, text: &str) -> ConfigError {
        ConfigError::Syntax {
            path: PathBuf::from(self.path),
            line,
            message: format!("{message}: {text:?}"),
        }
    }
}

/// oslo.config drops one pair of matching quotes around a single-line value
/// (a lone quote character becomes the empty string there too).
fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if value.starts_with(quote) && value.ends_with(quote) {
            return value.get(1..value.len() - 1).unwrap_or("");
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> IniFile {
        IniFile::parse(text, Path::new("test.conf")).unwrap()
    }

    fn parse_error(text: &str) -> String {
        IniFile::parse(text, Path::new("test.conf"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn equals_and_colon_both_separate_key_and_value() {
        let ini = parse("[DEFAULT]\na = 1\nb: 2\nurl = http://host:80/x\nc: d=e\n");
        assert_eq!(ini.get("DEFAULT", "a"), Some("1"));
        assert_eq!(ini.get("DEFAULT", "b"), Some("2"));
        assert_eq!(ini.get("DEFAULT", "url"), Some("http://host:80/x"));
        assert_eq!(ini.get("DEFAULT", "c"), Some("d=e"));
    }

    #[test]
    fn values_and_keys_are_stripped_and_keys_keep_their_case() {
        let ini = parse("[DEFAULT]\n  \nMixedKey  =   spaced value   \n");
        assert_eq!(ini.get("DEFAULT", "MixedKey"), Some("spaced value"));
        assert_eq!(ini.get("DEFAULT", "mixedkey"), None);
    }

    #[test]
    fn continuation_lines_join_with_newlines_and_following_key_survives() {
        let ini = parse("[DEFAULT]\nkey = first\n    second line\n\tthird\npercent = 50%\n");
        assert_eq!(ini.get("DEFAULT", "key"), Some("first\nsecond line\nthird"));
        assert_eq!(ini.get("DEFAULT", "percent"), Some("50%"));
    }

    #[test]
    fn blank_line_ends_a_multi_line_value() {
        let error = parse_error("[DEFAULT]\nkey = first\n\n    orphan\n");
        assert_eq!(
            error,
            "test.conf:4: unexpected continuation line: \"    orphan\""
        );
    }

    #[test]
    fn repeated_keys_accumulate_and_get_returns_the_last() {
        let ini = parse("[glance_store]\ndirs = /a:100\ndirs = /b:200\n");
        assert_eq!(ini.get_all("glance_store", "dirs"), ["/a:100", "/b:200"]);
        assert_eq!(ini.get("glance_store", "dirs"), Some("/b:200"));
        assert!(ini.get_all("glance_store", "missing").is_empty());
    }

    #[test]
    fn comment_lines_are_skipped_but_inline_hashes_are_kept() {
        let ini = parse("# top\n[DEFAULT]\n; semicolon\n#key = 1\nkey = a # not a comment\n");
        assert_eq!(ini.get("DEFAULT", "key"), Some("a # not a comment"));
        assert_eq!(ini.keys().count(), 1);
    }

    #[test]
    fn percent_signs_are_not_interpolated() {
        let ini = parse("[database]\nconnection = mysql://u:p%40ss@h/%(db)s\n");
        assert_eq!(
            ini.get("database", "connection"),
            Some("mysql://u:p%40ss@h/%(db)s")
        );
    }

    #[test]
    fn matching_quotes_around_a_value_are_removed() {
        let ini = parse("[DEFAULT]\na = \"quoted\"\nb = 'single'\nc = \"mismatched'\nd = \"\n");
        assert_eq!(ini.get("DEFAULT", "a"), Some("quoted"));
        assert_eq!(ini.get("DEFAULT", "b"), Some("single"));
        assert_eq!(ini.get("DEFAULT", "c"), Some("\"mismatched'"));
        assert_eq!(ini.get("DEFAULT", "d"), Some(""));
    }

    #[test]
    fn empty_values_are_kept() {
        let ini = parse("[paste_deploy]\nflavor =\n");
        assert_eq!(ini.get("paste_deploy", "flavor"), Some(""));
    }

    #[test]
    fn section_names_are_case_sensitive_until_normalized() {
        let ini = parse("[Database]\nconnection = a\n[DEFAULT]\nx = 1\n");
        assert_eq!(ini.get("database", "connection"), None);
        let ini = ini.with_oslo_group_names();
        assert_eq!(ini.get("database", "connection"), Some("a"));
        assert_eq!(ini.get("DEFAULT", "x"), Some("1"));
        assert_eq!(ini.sections().collect::<Vec<_>>(), ["database", "DEFAULT"]);
    }

    #[test]
    fn line_without_separator_is_an_error_with_its_line_number() {
        let error = parse_error("[DEFAULT]\n\nbind_host\n");
        assert_eq!(
            error,
            "test.conf:3: no ':' or '=' found in assignment: \"bind_host\""
        );
    }

    #[test]
    fn key_before_any_section_is_an_error() {
        let error = parse_error("# header\nbind_port = 1\n");
        assert!(
            error.starts_with("test.conf:2: a section must be started"),
            "{error}"
        );
    }

    #[test]
    fn unclosed_and_empty_section_headers_are_errors() {
        assert!(parse_error("[DEFAULT\n").starts_with("test.conf:1: section header must end"));
        assert!(parse_error("[DEFAULT]\n[]\n").starts_with("test.conf:2: empty section name"));
    }

    #[test]
    fn empty_key_is_an_error() {
        assert!(
            parse_error("[DEFAULT]\n= value\n").starts_with("test.conf:2: key cannot be empty")
        );
    }

    #[test]
    fn windows_line_endings_and_byte_order_mark_are_accepted() {
        let ini = parse("\u{feff}[DEFAULT]\r\nkey = value\r\n");
        assert_eq!(ini.get("DEFAULT", "key"), Some("value"));
    }

    #[test]
    fn merge_lets_later_files_win_and_accumulates_multi_values() {
        let mut first = parse("[DEFAULT]\nport = 1\nkeep = yes\nmulti = a\n");
        first.merge(parse("[DEFAULT]\nport = 2\nmulti = b\n[extra]\nnew = x\n"));
        assert_eq!(first.get("DEFAULT", "port"), Some("2"));
        assert_eq!(first.get("DEFAULT", "keep"), Some("yes"));
        assert_eq!(first.get_all("DEFAULT", "multi"), ["a", "b"]);
        assert_eq!(first.get("extra", "new"), Some("x"));
    }

    #[test]
    fn keys_and_sections_are_listed_in_file_order() {
        let ini = parse("[b]\nz = 1\ny = 2\n[a]\n[b]\nz = 3\n");
        assert_eq!(ini.keys().collect::<Vec<_>>(), [("b", "z"), ("b", "y")]);
        assert_eq!(ini.sections().collect::<Vec<_>>(), ["b", "a"]);
    }
}
