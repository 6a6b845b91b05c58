//! Reading a request body with a size cap (docs/standards.md §4: "body size is capped").

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, header};
use http_body::Body;
use http_body_util::BodyExt;

/// Why a body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// The body (or its declared `Content-Length`) exceeds the cap → 413.
    TooLarge {
        /// The cap in bytes.
        limit_bytes: usize,
    },
    /// The stream failed (client went away, malformed chunking) → 400.
    Read(String),
}

/// Reads the whole body, refusing more than `limit_bytes`. A `Content-Length` above the
/// cap is refused before reading a byte; a longer stream is refused as soon as it
/// crosses the cap, so memory stays bounded whatever the client sends.
pub async fn read_body_capped<B>(
    headers: &HeaderMap,
    body: B,
    limit_bytes: usize,
) -> Result<Bytes, BodyError>
where
    B: Body,
    B::Error: std::fmt::Display,
{
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit_bytes as u64) {
        return Err(BodyError::TooLarge { limit_bytes });
    }
    let mut body = std::pin::pin!(body);
    let mut collected = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Read(e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            let chunk = bytes_of(data);
            if collected.len() + chunk.len() > limit_bytes {
                return Err(BodyError::TooLarge { limit_bytes });
            }
            collected.extend_from_slice(&chunk);
        }
    }
    Ok(collected.freeze())
}

fn bytes_of<D: bytes::Buf>(mut data: D) -> Bytes {
    data.copy_to_bytes(data.remaining())
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use http::HeaderValue;
    use http_body_util::{Full, StreamBody};

    #[test]
    fn a_body_within_the_cap_is_read_whole() {
        let body = Full::new(Bytes::from_static(b"hello"));
        assert_eq!(
            block_on(read_body_capped(&HeaderMap::new(), body, 5)),
            Ok(Bytes::from_static(b"hello"))
        );
    }

    #[test]
    fn a_declared_length_over_the_cap_is_refused_before_reading() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("50000000"));
        let body = Full::new(Bytes::new());
        assert_eq!(
            block_on(read_body_capped(&headers, body, 1024)),
            Err(BodyError::TooLarge { limit_bytes: 1024 })
        );
    }

    #[test]
    fn a_stream_crossing_the_cap_is_refused_without_reading_on() {
        let chunks = (0..1000).map(|_| {
            Ok::<_, std::convert::Infallible>(http_body::Frame::data(Bytes::from_static(
                &[0u8; 100],
            )))
        });
        let body = StreamBody::new(futures::stream::iter(chunks));
        assert_eq!(
            block_on(read_body_capped(&HeaderMap::new(), body, 250)),
            Err(BodyError::TooLarge { limit_bytes: 250 })
        );
    }

    #[test]
    fn a_failing_stream_is_a_read_error() {
        let chunks = vec![Err::<http_body::Frame<Bytes>, _>("reset by peer")];
        let body = StreamBody::new(futures::stream::iter(chunks));
        assert_eq!(
            block_on(read_body_capped(&HeaderMap::new(), body, 250)),
            Err(BodyError::Read("reset by peer".to_owned()))
        );
    }
}
