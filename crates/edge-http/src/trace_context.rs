//! W3C Trace Context `traceparent` (<https://www.w3.org/TR/trace-context/>).
//!
//! We accept a caller's `traceparent` when it is valid, continue its trace with a new
//! span id of our own, and answer with that `traceparent` so a caller can find our
//! span. An absent or invalid header starts a new trace (§4.3: "If the vendor failed to
//! parse traceparent, it MUST NOT attempt to parse tracestate" and restarts the trace).

use std::fmt;

use http::HeaderValue;

/// The `traceparent` header name.
pub const TRACEPARENT_HEADER: http::HeaderName = http::HeaderName::from_static("traceparent");

/// Length of a version-00 `traceparent`: `2 + 1 + 32 + 1 + 16 + 1 + 2`.
const VERSION_00_LEN: usize = 55;

/// The sampled bit of `trace-flags` (§3.2.2.5.1), the only flag we propagate.
const FLAG_SAMPLED: u8 = 0x01;

/// A 16-byte trace id; never all zeros (§3.2.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId([u8; 16]);

/// An 8-byte span (parent) id; never all zeros (§3.2.2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanId([u8; 8]);

impl TraceId {
    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    fn random() -> Self {
        // A v4 UUID is 122 random bits; its version nibble makes it never zero, and its
        // last seven bytes are fully random as Trace Context Level 2 recommends.
        Self(uuid::Uuid::new_v4().into_bytes())
    }
}

impl SpanId {
    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8; 8] {
        &self.0
    }

    fn random() -> Self {
        let bytes = uuid::Uuid::new_v4().into_bytes();
        let mut span = [0u8; 8];
        span.copy_from_slice(&bytes[8..16]);
        // Byte 8 of a v4 UUID carries the RFC 9562 variant bits `10`, so it is never
        // zero and neither is the span id.
        Self(span)
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

/// Why a `traceparent` value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceParentError {
    /// Shorter than 55 characters, or a version-00 value that is not exactly 55.
    Length,
    /// The version is not two lowercase hex digits, or is the forbidden `ff`.
    Version,
    /// A `-` is missing where the format puts one.
    Delimiter,
    /// A field holds something other than lowercase hex digits.
    NotLowercaseHex,
    /// The trace id is all zeros.
    ZeroTraceId,
    /// The parent id is all zeros.
    ZeroParentId,
}

impl fmt::Display for TraceParentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::Length => "traceparent has the wrong length",
            Self::Version => "traceparent version is invalid",
            Self::Delimiter => "traceparent is missing a '-' delimiter",
            Self::NotLowercaseHex => "traceparent field is not lowercase hex",
            Self::ZeroTraceId => "traceparent trace-id is all zeros",
            Self::ZeroParentId => "traceparent parent-id is all zeros",
        };
        f.write_str(text)
    }
}

impl std::error::Error for TraceParentError {}

/// A parsed `traceparent`: which trace a request belongs to and which span sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    trace_id: TraceId,
    parent_id: SpanId,
    flags: u8,
}

impl TraceParent {
    /// Parses a `traceparent` value per Trace Context §3.2 and the versioning rules of
    /// §4.3: version `00` must be exactly 55 characters; a higher version is parsed by
    /// its version-00 prefix and must continue with `-` if longer; `ff` is invalid.
    /// All hex must be lowercase (§3.2.2.1, `HEXDIGLC`).
    pub fn parse(value: &str) -> Result<Self, TraceParentError> {
        let value = value.trim_matches([' ', '\t']);
        let bytes = value.as_bytes();
        if bytes.len() < VERSION_00_LEN {
            return Err(TraceParentError::Length);
        }
        let version = parse_hex::<1>(&bytes[0..2]).ok_or(TraceParentError::Version)?[0];
        if version == 0xff {
            return Err(TraceParentError::Version);
        }
        if version == 0x00 && bytes.len() != VERSION_00_LEN {
            return Err(TraceParentError::Length);
        }
        if version > 0x00 && bytes.len() > VERSION_00_LEN && bytes[VERSION_00_LEN] != b'-' {
            return Err(TraceParentError::Delimiter);
        }
        if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
            return Err(TraceParentError::Delimiter);
        }
        let trace_id = parse_hex::<16>(&bytes[3..35]).ok_or(TraceParentError::NotLowercaseHex)?;
        let parent_id = parse_hex::<8>(&bytes[36..52]).ok_or(TraceParentError::NotLowercaseHex)?;
        let flags = parse_hex::<1>(&bytes[53..55]).ok_or(TraceParentError::NotLowercaseHex)?[0];
        if trace_id == [0; 16] {
            return Err(TraceParentError::ZeroTraceId);
        }
        if parent_id == [0; 8] {
            return Err(TraceParentError::ZeroParentId);
        }
        Ok(Self {
            trace_id: TraceId(trace_id),
            parent_id: SpanId(parent_id),
            flags,
        })
    }

    /// Parses a `traceparent` header value (see [`TraceParent::parse`]).
    pub fn from_header(value: &HeaderValue) -> Result<Self, TraceParentError> {
        value
            .to_str()
            .map_err(|_| TraceParentError::NotLowercaseHex)
            .and_then(Self::parse)
    }

    /// Starts a new trace with this service as its root span. The edge records no spans
    /// itself, so it does not claim the trace was sampled (flags `00`).
    pub fn new_root() -> Self {
        Self {
            trace_id: TraceId::random(),
            parent_id: SpanId::random(),
            flags: 0,
        }
    }

    /// The `traceparent` for our own span in this trace: same trace id and sampled
    /// flag, a fresh span id. Unknown flag bits are not propagated (§3.2.2.5).
    pub fn child(&self) -> Self {
        Self {
            trace_id: self.trace_id,
            parent_id: SpanId::random(),
            flags: self.flags & FLAG_SAMPLED,
        }
    }

    /// The trace this request belongs to.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The span that sent this `traceparent` (for our own context: our span id).
    pub fn parent_id(&self) -> SpanId {
        self.parent_id
    }

    /// Whether the caller recorded this trace (the sampled flag).
    pub fn sampled(&self) -> bool {
        self.flags & FLAG_SAMPLED != 0
    }

    /// The value as a header, always in version-00 form.
    pub fn to_header_value(&self) -> Option<HeaderValue> {
        HeaderValue::from_str(&self.to_string()).ok()
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            self.trace_id, self.parent_id, self.flags
        )
    }
}

/// Decodes exactly `2 * N` lowercase hex digits.
fn parse_hex<const N: usize>(digits: &[u8]) -> Option<[u8; N]> {
    if digits.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (slot, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *slot = (lowercase_hex_value(pair[0])? << 4) | lowercase_hex_value(pair[1])?;
    }
    Some(out)
}

fn lowercase_hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn the_specs_example_parses() {
        let parsed = TraceParent::parse(VALID);
        assert_eq!(parsed.map(|t| t.to_string()).as_deref(), Ok(VALID));
        assert_eq!(parsed.map(|t| t.sampled()), Ok(true));
        assert_eq!(
            parsed.map(|t| t.trace_id().to_string()).as_deref(),
            Ok("4bf92f3577b34da6a3ce929d0e0e4736")
        );
    }

    #[test]
    fn invalid_values_are_refused_with_their_reason() {
        use TraceParentError::*;
        let cases: [(&str, TraceParentError, &str); 13] = [
            ("", Length, "empty"),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
                Length,
                "short flags",
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
                Length,
                "version 00 must be exactly 55 chars",
            ),
            (
                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                Version,
                "ff is forbidden",
            ),
            (
                "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                Version,
                "bad hex version",
            ),
            (
                "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                Version,
                "uppercase version",
            ),
            (
                "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                Delimiter,
                "underscore",
            ),
            (
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                NotLowercaseHex,
                "uppercase trace id",
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e473z-00f067aa0ba902b7-01",
                NotLowercaseHex,
                "non-hex trace id",
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
                NotLowercaseHex,
                "non-hex flags",
            ),
            (
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                ZeroTraceId,
                "zero trace id",
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                ZeroParentId,
                "zero parent id",
            ),
            (
                "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
                Delimiter,
                "a future version longer than 55 must continue with '-'",
            ),
        ];
        for (input, expected, reason) in cases {
            assert_eq!(
                TraceParent::parse(input),
                Err(expected),
                "{reason}: {input:?}"
            );
        }
    }

    #[test]
    fn future_versions_are_read_by_their_version_00_prefix() {
        let future =
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds";
        let parsed = TraceParent::parse(future);
        assert_eq!(parsed.map(|t| t.to_string()).as_deref(), Ok(VALID));
        let exact = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert!(TraceParent::parse(exact).is_ok());
    }

    #[test]
    fn surrounding_optional_whitespace_is_ignored() {
        assert!(TraceParent::parse(&format!(" {VALID}\t")).is_ok());
    }

    #[test]
    fn a_child_keeps_the_trace_and_sampled_flag_but_not_the_span_or_unknown_flags() {
        let parent = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff");
        assert!(parent.is_ok());
        if let Ok(parent) = parent {
            let child = parent.child();
            assert_eq!(child.trace_id(), parent.trace_id());
            assert_ne!(child.parent_id(), parent.parent_id());
            assert!(child.sampled());
            assert!(child.to_string().ends_with("-01"));
        }
    }

    #[test]
    fn a_new_root_is_valid_and_unsampled() {
        let root = TraceParent::new_root();
        assert_eq!(TraceParent::parse(&root.to_string()), Ok(root));
        assert!(!root.sampled());
        assert_ne!(TraceParent::new_root().trace_id(), root.trace_id());
    }

    proptest! {
        #[test]
        fn any_valid_version_00_value_round_trips(
            trace in "[0-9a-f]{32}", span in "[0-9a-f]{16}", flags in "[0-9a-f]{2}"
        ) {
            prop_assume!(trace.bytes().any(|b| b != b'0'));
            prop_assume!(span.bytes().any(|b| b != b'0'));
            let value = format!("00-{trace}-{span}-{flags}");
            let parsed = TraceParent::parse(&value);
            prop_assert_eq!(parsed.map(|t| t.to_string()), Ok(value));
        }

        #[test]
        fn arbitrary_input_never_panics_and_valid_output_is_well_formed(input in "\\PC{0,80}") {
            if let Ok(parsed) = TraceParent::parse(&input) {
                prop_assert_eq!(parsed.to_string().len(), VERSION_00_LEN);
                prop_assert!(parsed.to_header_value().is_some());
            }
        }
    }
}
