//! Client-controlled text in log lines: bounded, and kept on one line.

use std::fmt::{self, Write};

/// The most bytes of one client-controlled value a log line carries.
pub const MAX_LOGGED_BYTES: usize = 512;

/// Displays at most [`MAX_LOGGED_BYTES`] of a text, control characters
/// escaped, followed by `…[cut: <length> bytes]` when it was longer.
#[derive(Debug, Clone, Copy)]
pub struct Capped<'a>(&'a str);

/// `text`, bounded for a log line.
pub fn capped(text: &str) -> Capped<'_> {
    Capped(text)
}

impl fmt::Display for Capped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0;
        // Most texts need nothing done and are written at once: none of
        // these bytes, no control character (U+0000–U+001F, U+007F, and
        // U+0080–U+009F, written 0xC2 0x80–0x9F).
        if text.len() <= MAX_LOGGED_BYTES
            && text.bytes().all(|b| b >= 0x20 && b != 0x7f && b != 0xc2)
        {
            return f.write_str(text);
        }
        let end = (0..=MAX_LOGGED_BYTES.min(text.len()))
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        for c in text[..end].chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                f.write_char(c)?;
            }
        }
        if end < text.len() {
            write!(f, "…[cut: {} bytes]", text.len())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_unchanged() {
        assert_eq!(capped("GET /v2/images").to_string(), "GET /v2/images");
    }

    #[test]
    fn long_text_is_cut_with_a_marker() {
        let text = "é".repeat(MAX_LOGGED_BYTES);
        let shown = capped(&text).to_string();
        assert!(shown.ends_with(&format!("…[cut: {} bytes]", text.len())));
        assert!(shown.len() < MAX_LOGGED_BYTES + 40, "{}", shown.len());
    }

    #[test]
    fn control_characters_cannot_start_a_new_line() {
        let shown = capped("a\nERROR forged\r\x1b[31m").to_string();
        assert_eq!(shown, "a\\nERROR forged\\r\\u{1b}[31m");
        // A control character of the C1 block; `¡` (U+00A1), just after
        // the block, is none.
        assert_eq!(capped("a\u{85}b\u{7f}").to_string(), "a\\u{85}b\\u{7f}");
        assert_eq!(capped("¡señor!").to_string(), "¡señor!");
    }
}
