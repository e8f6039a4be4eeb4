//! Writing Prometheus's text exposition format (version 0.0.4).

use std::fmt::Write;

/// The text of one scrape, written family by family.
#[derive(Debug, Default)]
pub(super) struct Exposition {
    out: String,
}

impl Exposition {
    /// Starts a family: its `HELP` and `TYPE` lines.
    pub fn family(&mut self, name: &str, help: &str, kind: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    /// One sample line.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (label, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(label);
                self.out.push_str("=\"");
                escape_value(&mut self.out, v);
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        write_value(&mut self.out, value);
        self.out.push('\n');
    }

    pub fn finish(self) -> String {
        self.out
    }
}

fn escape_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn write_value(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{value}");
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
pub(super) fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, not reserved (`__…`).
pub(super) fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    !name.starts_with("__")
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_written_as_prometheus_reads_them() {
        let mut e = Exposition::default();
        e.sample("a", &[], 3.0);
        e.sample("b", &[], 0.25);
        e.sample("c", &[], f64::INFINITY);
        e.sample("d", &[], f64::NAN);
        e.sample("e", &[("x", "1"), ("y", "2")], 1e-7);
        assert_eq!(
            e.finish(),
            "a 3\nb 0.25\nc +Inf\nd NaN\ne{x=\"1\",y=\"2\"} 0.0000001\n"
        );
    }

    #[test]
    fn names_follow_the_data_model() {
        assert!(is_metric_name("glint_http_requests_total"));
        assert!(is_metric_name("ns:sub_total"));
        assert!(!is_metric_name("1abc"));
        assert!(!is_metric_name(""));
        assert!(!is_metric_name("a-b"));
        assert!(is_label_name("route"));
        assert!(!is_label_name("__name__"));
        assert!(!is_label_name("a:b"));
    }
}
