//! Frames on the wire: a 4-byte big-endian length, then a bincode (serde mode)
//! body. The length is checked against a limit *before* anything is allocated or
//! decoded, and bincode is told the same limit, so an oversized or malformed
//! frame is an error, never an allocation.
//!
//! bincode is the only serializer of the wire format and is used nowhere else: it
//! is marked unmaintained upstream (RUSTSEC-2025-0141), and keeping it behind these
//! functions keeps it swappable.

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::chunk_tree::CHUNK_SIZE;

/// Largest frame: one chunk and its header, or an offer's chaining values for an
/// item of up to ~60 GiB.
pub const MAX_FRAME: usize = CHUNK_SIZE + (1 << 20);

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// the peer announced a frame larger than the limit: the stream is closed
    #[error("frame of {0} bytes exceeds the limit of {1} bytes")]
    TooLarge(usize, usize),
    /// the frame's bytes are not a valid message
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// the stream ended or failed
    #[error("stream: {0}")]
    Io(#[from] std::io::Error),
}

/// Varint integers, big-endian fixed ones, and a hard cap on what one decode may
/// claim, so a forged length inside a frame cannot make bincode allocate past it.
fn config() -> impl bincode::config::Config {
    bincode::config::standard()
        .with_big_endian()
        .with_limit::<{ MAX_FRAME }>()
}

/// Encodes `msg` as one frame (length prefix included).
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, CodecError> {
    let body = bincode::serde::encode_to_vec(msg, config())
        .map_err(|e| CodecError::Malformed(e.to_string()))?;
    if body.len() > MAX_FRAME {
        return Err(CodecError::TooLarge(body.len(), MAX_FRAME));
    }
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decodes a frame body that has already passed the length check.
pub fn decode_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, CodecError> {
    let (msg, used) = bincode::serde::decode_from_slice(body, config())
        .map_err(|e| CodecError::Malformed(crate::log_escape::escape(&e.to_string())))?;
    if used != body.len() {
        return Err(CodecError::Malformed(format!(
            "{} trailing bytes",
            body.len() - used
        )));
    }
    Ok(msg)
}

/// Reads one frame; `Ok(None)` when the stream ended cleanly between frames.
pub async fn read<T: DeserializeOwned, R: AsyncRead + Unpin>(
    r: &mut R,
    limit: usize,
) -> Result<Option<T>, CodecError> {
    Ok(read_sized(r, limit).await?.map(|(m, _)| m))
}

/// [`read`], with the frame's body length (for logs: kind and size, never payload).
pub async fn read_sized<T: DeserializeOwned, R: AsyncRead + Unpin>(
    r: &mut R,
    limit: usize,
) -> Result<Option<(T, usize)>, CodecError> {
    let mut header = [0u8; 4];
    match r.read_exact(&mut header).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(header) as usize;
    if len > limit.min(MAX_FRAME) {
        return Err(CodecError::TooLarge(len, limit.min(MAX_FRAME)));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await?;
    decode_body(&body).map(|m| Some((m, len)))
}

/// Writes one frame.
pub async fn write<T: Serialize, W: AsyncWrite + Unpin>(
    w: &mut W,
    msg: &T,
) -> Result<(), CodecError> {
    let frame = encode(msg)?;
    w.write_all(&frame).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Request, Response};

    #[tokio::test]
    async fn frames_round_trip_and_limits_hold() {
        let msgs = vec![
            Request::Hello {
                version: 1,
                software: "t".into(),
            },
            Request::Chunk {
                index: 7,
                data: vec![9u8; 1000],
            },
            Request::Done,
        ];
        let mut buf = Vec::new();
        for m in &msgs {
            write(&mut buf, m).await.unwrap();
        }
        let mut r = &buf[..];
        for m in &msgs {
            let got: Request = read(&mut r, MAX_FRAME).await.unwrap().unwrap();
            assert_eq!(&got, m);
        }
        assert!(read::<Request, _>(&mut r, MAX_FRAME)
            .await
            .unwrap()
            .is_none());

        // a frame over the reader's limit is refused before its body is read
        let big = encode(&Request::Chunk {
            index: 0,
            data: vec![0u8; 5000],
        })
        .unwrap();
        let err = read::<Request, _>(&mut &big[..], 4096).await.unwrap_err();
        assert!(matches!(err, CodecError::TooLarge(_, 4096)), "{err}");
        // an announced length far beyond MAX_FRAME never allocates
        let mut lie = (u32::MAX).to_be_bytes().to_vec();
        lie.extend_from_slice(b"xx");
        assert!(matches!(
            read::<Request, _>(&mut &lie[..], MAX_FRAME).await,
            Err(CodecError::TooLarge(..))
        ));
        // garbage of a valid length is malformed, not a panic
        let mut junk = 8u32.to_be_bytes().to_vec();
        junk.extend_from_slice(&[0xff; 8]);
        assert!(matches!(
            read::<Response, _>(&mut &junk[..], MAX_FRAME).await,
            Err(CodecError::Malformed(_))
        ));
        // a vector whose declared length exceeds the frame is refused by bincode's limit
        let mut sneaky = Vec::new();
        let body = {
            let mut b = encode(&Request::Chunk {
                index: 1,
                data: vec![1, 2, 3],
            })
            .unwrap()[4..]
                .to_vec();
            // rewrite the varint length of `data` (last 4 bytes are len=3 then 1,2,3) to a huge value
            let n = b.len();
            b.truncate(n - 4);
            b.extend_from_slice(&[0xfc, 0xff, 0xff, 0xff, 0x7f]);
            b
        };
        sneaky.extend_from_slice(&(body.len() as u32).to_be_bytes());
        sneaky.extend_from_slice(&body);
        assert!(read::<Request, _>(&mut &sneaky[..], MAX_FRAME)
            .await
            .is_err());
    }
}
