//! Where log lines go (standard error) and how they look: text by default,
//! or one JSON object per line (`[glint] log_format = json`).
//!
//! A JSON line holds `timestamp` (RFC 3339, UTC), `level`, `target`,
//! `message`, the event's other `fields`, the fields of the spans it
//! happened in (`span`), and at the top level the `request_id` of the
//! request it belongs to. Work a request starts carries its span along
//! (the upload's task, the store's writer and hashing threads), so its
//! lines carry the request id too.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{DefaultFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

/// Installs the process's logger: `RUST_LOG` filters (default `info`).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    match format {
        LogFormat::Text => {
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let lines = tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(ansi);
            tracing_subscriber::registry()
                .with(filter)
                .with((!ansi).then_some(PlainSpanFields))
                .with(lines)
                .init();
        }
        LogFormat::Json => {
            let lines = tracing_subscriber::fmt::layer()
                .event_format(JsonLines)
                .with_writer(std::io::stderr);
            tracing_subscriber::registry()
                .with(filter)
                .with(SpanFields)
                .with(lines)
                .init();
        }
    }
}

/// Writes a new span's fields for the text format as its formatter would
/// (`name=value`, a space between), without the formatting machinery the
/// formatter runs for each field: every request opens a span, and that
/// machinery cost it a tenth of a show. Runs before the formatter, which
/// then finds the text written; a span with a field it would write in
/// another way (a string, an error, the message, a name it hides or
/// strips) is left to it. Not with colours, whose text differs.
struct PlainSpanFields;

impl<S> tracing_subscriber::Layer<S> for PlainSpanFields
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut plain = PlainVisitor {
            text: String::with_capacity(128),
            plain: true,
        };
        attrs.record(&mut plain);
        if !plain.plain {
            return;
        }
        if let Some(span) = ctx.span(id) {
            let fields = FormattedFields::<DefaultFields>::new(plain.text);
            span.extensions_mut().insert(fields);
        }
    }
}

/// [`PlainSpanFields`]'s writer; `plain` turns false at a field it
/// leaves to the formatter.
struct PlainVisitor {
    text: String,
    plain: bool,
}

impl Visit for PlainVisitor {
    fn record_str(&mut self, _: &Field, _: &str) {
        self.plain = false;
    }

    fn record_error(&mut self, _: &Field, _: &(dyn std::error::Error + 'static)) {
        self.plain = false;
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let name = field.name();
        if name == "message" || name.starts_with("log.") || name.starts_with("r#") {
            self.plain = false;
        }
        if !self.plain {
            return;
        }
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        self.text.push_str(name);
        self.text.push('=');
        if fmt::Write::write_fmt(&mut self.text, format_args!("{value:?}")).is_err() {
            self.plain = false;
        }
    }
}

/// The field of the request span that names the request.
const REQUEST_ID: &str = "request_id";

/// Keeps each span's fields as JSON in the span's extensions.
struct SpanFields;

/// A span's fields.
struct Fields(Map<String, Value>);

impl<S> tracing_subscriber::Layer<S> for SpanFields
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut visitor = JsonVisitor::default();
        attrs.record(&mut visitor);
        span.extensions_mut().insert(Fields(visitor.fields));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(Fields(fields)) = extensions.get_mut::<Fields>() {
            let mut visitor = JsonVisitor::default();
            values.record(&mut visitor);
            fields.extend(visitor.fields);
        }
    }
}

/// Writes one JSON object per event.
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut visitor = JsonVisitor::default();
        event.record(&mut visitor);
        let mut line = Map::new();
        line.insert("timestamp".into(), Value::String(timestamp()));
        line.insert("level".into(), Value::String(meta.level().to_string()));
        line.insert("target".into(), Value::String(meta.target().to_owned()));
        let message = visitor.message.unwrap_or_default();
        line.insert("message".into(), Value::String(message));
        line.insert("fields".into(), Value::Object(visitor.fields));
        let mut span_fields = Map::new();
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                if let Some(Fields(fields)) = span.extensions().get::<Fields>() {
                    span_fields.extend(fields.clone());
                }
            }
        }
        if let Some(id) = span_fields.remove(REQUEST_ID) {
            line.insert(REQUEST_ID.into(), id);
        }
        if !span_fields.is_empty() {
            line.insert("span".into(), Value::Object(span_fields));
        }
        let text = serde_json::to_string(&line).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

fn timestamp() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

/// Collects fields as JSON values, the message apart.
#[derive(Default)]
struct JsonVisitor {
    message: Option<String>,
    fields: Map<String, Value>,
}

impl JsonVisitor {
    fn put(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = Some(match value {
                Value::String(s) => s,
                other => other.to_string(),
            });
        } else {
            self.fields.insert(field.name().to_owned(), value);
        }
    }
}

impl Visit for JsonVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_owned()));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::String(value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;
    use tracing_subscriber::layer::SubscriberExt;

    use super::PlainSpanFields;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;

        fn make_writer(&'a self) -> Captured {
            self.clone()
        }
    }

    /// Spans of every kind of field, an event in each, and a field
    /// recorded after a span opened.
    fn log_some() {
        let id = "req-5b0e \"quoted\" \\ ünï\t";
        let request = tracing::info_span!(
            "request",
            request_id = %id,
            method = %"GET",
            path = %"/v2/images/x",
        );
        request.in_scope(|| tracing::info!(status = 200, "inside the request"));
        let mixed = tracing::info_span!(
            "mixed",
            number = 5_u64,
            negative = -3_i64,
            flag = true,
            debugged = ?vec!["a", "b\n"],
            later = tracing::field::Empty,
        );
        mixed.record("later", 7);
        mixed.in_scope(|| {
            let _nested = tracing::info_span!("empty").entered();
            tracing::warn!("nested");
        });
        for span in [
            tracing::info_span!("a string", text = "left to the formatter"),
            tracing::info_span!(
                "an error",
                error = &io::Error::other("broken") as &dyn std::error::Error
            ),
            tracing::info_span!("raw", r#type = %"kept"),
        ] {
            span.in_scope(|| tracing::info!("in another span"));
        }
    }

    fn lines(plain: bool) -> String {
        let out = Captured::default();
        let format = tracing_subscriber::fmt::layer()
            .with_writer(out.clone())
            .with_ansi(false)
            .without_time();
        let subscriber = tracing_subscriber::registry()
            .with(plain.then_some(PlainSpanFields))
            .with(format);
        tracing::subscriber::with_default(subscriber, log_some);
        String::from_utf8(out.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn span_fields_written_plainly_are_what_the_formatter_writes() {
        let expected = lines(false);
        for written in [
            "request{request_id=req-5b0e \"quoted\" \\ ünï\t method=GET path=/v2/images/x}:",
            "mixed{number=5 negative=-3 flag=true debugged=[\"a\", \"b\\n\"] later=7}:empty:",
            "a string{text=\"left to the formatter\"}:",
            "an error{error=broken}:",
            "raw{type=kept}:",
        ] {
            assert!(expected.contains(written), "{written} in {expected}");
        }
        assert_eq!(lines(true), expected);
    }
}
