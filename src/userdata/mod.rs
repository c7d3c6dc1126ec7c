//! cloud-init multi-part user data: files (or rendered Kubernetes objects) bundled into
//! one `multipart/mixed` MIME message, each part typed the way `write-mime-multipart` and
//! cloud-init type them, optionally gzip-compressed and preceded by a part handler that
//! drops the Kubernetes parts into a directory for `kube-openstack watch`.

mod detect;
mod handler;
mod parts;

pub use detect::{content_type, is_kube_type, kube_type};
pub use handler::{DEFAULT_INCOMING_DIR, part_handler};
pub use parts::{PartSpec, collect};

use base64::Engine as _;
use mail_builder::headers::HeaderType;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::{BodyPart, MimePart};
use std::io::Write as _;
use std::path::PathBuf;

/// Nova refuses user data longer than this once base64-encoded.
pub const NOVA_USER_DATA_LIMIT: usize = 65_535;

/// Warn when the encoded size passes this share of the limit.
pub const WARN_SHARE: f64 = 0.9;

/// One part of the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The name cloud-init sees (`Content-Disposition: attachment; filename=...`).
    pub filename: String,
    pub content_type: String,
    pub body: Vec<u8>,
    /// Where the part came from, for messages.
    pub origin: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum UserdataError {
    #[error("cannot read `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{0}` does not exist")]
    Missing(PathBuf),
    #[error("`{type_}` (given for `{path}`) is not a MIME type: expected `type/subtype`, such as the types cloud-init knows: {}", detect::known_types().join(", "))]
    BadType { path: PathBuf, type_: String },
    #[error("two parts would be named `{name}`: `{first}` and `{second}`")]
    DuplicateName {
        name: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("no parts to bundle")]
    Empty,
    #[error(
        "the user data is {encoded} bytes once base64-encoded, over the {limit}-byte limit{gzip_note}"
    )]
    TooLarge {
        encoded: usize,
        limit: usize,
        gzip_note: &'static str,
    },
}

impl crate::report::Hint for UserdataError {
    fn hint(&self) -> Option<String> {
        match self {
            UserdataError::DuplicateName { .. } => Some(
                "rename one of them; the part handler writes each part under its file name".into(),
            ),
            UserdataError::Empty => {
                Some("name files or directories, or use --from-rendered".into())
            }
            UserdataError::TooLarge { gzip_note: "", .. } => {
                Some("add --gzip: cloud-init accepts gzip-compressed user data".into())
            }
            UserdataError::TooLarge { .. } => Some(
                "split the parts over several servers, or hand the larger files over another way \
                 (e.g. an #include URL)"
                    .into(),
            ),
            UserdataError::BadType { .. } => Some("e.g. `app.conf:text/plain`".into()),
            _ => None,
        }
    }
}

/// The MIME message cloud-init reads: `MIME-Version` first (cloud-init only treats the
/// data as multi-part when it sees that header in the first 4 KiB), then one part per
/// input. Text parts stay readable (7bit or quoted-printable, UTF-8); anything that is not
/// valid UTF-8 travels as base64, so every byte comes back as it went in.
pub fn assemble(parts: &[Part], merge_type: Option<&str>) -> Vec<u8> {
    let children = parts
        .iter()
        .map(|part| {
            let text = std::str::from_utf8(&part.body)
                .ok()
                .filter(|_| part.content_type.starts_with("text/"));
            let mime = match text {
                Some(text) => MimePart::new(
                    ContentType::new(part.content_type.as_str()).attribute("charset", "utf-8"),
                    BodyPart::Text(text.into()),
                ),
                None => MimePart::new(
                    ContentType::new(part.content_type.as_str()),
                    BodyPart::Binary(part.body.as_slice().into()),
                ),
            };
            let mime = mime.attachment(part.filename.as_str());
            match merge_type {
                Some(merge) => mime.header("X-Merge-Type", HeaderType::Raw(Raw::new(merge))),
                None => mime,
            }
        })
        .collect::<Vec<_>>();
    let mut out = b"MIME-Version: 1.0\r\n".to_vec();
    MimePart::new(
        ContentType::new("multipart/mixed"),
        BodyPart::Multipart(children),
    )
    .write_part(&mut out);
    out
}

/// gzip, which cloud-init recognises by its magic number.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

/// Length of `len` bytes once base64-encoded (what Nova measures).
pub fn base64_len(len: usize) -> usize {
    base64::engine::general_purpose::STANDARD
        .encode(vec![0u8; len % 3])
        .len()
        + len / 3 * 4
}

/// A finished bundle and its size against the limit.
#[derive(Debug)]
pub struct Bundle {
    pub bytes: Vec<u8>,
    pub parts: usize,
    pub gzipped: bool,
    pub uncompressed_len: usize,
    pub limit: usize,
}

impl Bundle {
    pub fn encoded_len(&self) -> usize {
        base64_len(self.bytes.len())
    }

    pub fn near_limit(&self) -> bool {
        self.encoded_len() as f64 > self.limit as f64 * WARN_SHARE
    }
}

/// Assembles, compresses when asked, and refuses a result over `limit` encoded bytes.
pub fn bundle(
    parts: &[Part],
    merge_type: Option<&str>,
    gzip_it: bool,
    limit: usize,
) -> Result<Bundle, UserdataError> {
    if parts.is_empty() {
        return Err(UserdataError::Empty);
    }
    let message = assemble(parts, merge_type);
    let uncompressed_len = message.len();
    let bytes = if gzip_it { gzip(&message) } else { message };
    let bundle = Bundle {
        bytes,
        parts: parts.len(),
        gzipped: gzip_it,
        uncompressed_len,
        limit,
    };
    if bundle.encoded_len() > limit {
        let gzip_note = if gzip_it { " even with --gzip" } else { "" };
        return Err(UserdataError::TooLarge {
            encoded: bundle.encoded_len(),
            limit,
            gzip_note,
        });
    }
    Ok(bundle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Hint as _;

    fn part(name: &str, ty: &str, body: &[u8]) -> Part {
        Part {
            filename: name.into(),
            content_type: ty.into(),
            body: body.to_vec(),
            origin: name.into(),
        }
    }

    #[test]
    fn base64_length_matches_the_encoder() {
        for n in [0, 1, 2, 3, 4, 5, 6, 49_149, 49_150] {
            assert_eq!(
                base64_len(n),
                base64::engine::general_purpose::STANDARD
                    .encode(vec![7u8; n])
                    .len(),
                "{n}"
            );
        }
    }

    #[test]
    fn message_starts_with_mime_version_and_names_every_part() {
        let parts = [
            part("a.sh", "text/x-shellscript", b"#!/bin/sh\n"),
            part("b.bin", "application/octet-stream", &[0, 255]),
        ];
        let text = String::from_utf8(assemble(&parts, Some("list(append)+dict()"))).unwrap();
        assert!(
            text.starts_with("MIME-Version: 1.0\r\nContent-Type: multipart/mixed;"),
            "{text}"
        );
        assert!(text.contains("filename=\"a.sh\""), "{text}");
        assert!(text.contains("filename=\"b.bin\""), "{text}");
        assert_eq!(
            text.matches("X-Merge-Type: list(append)+dict()").count(),
            2,
            "{text}"
        );
    }

    #[test]
    fn over_the_limit_fails_and_gzip_can_bring_it_under() {
        let body = "x".repeat(60_000);
        let parts = [part("big.txt", "text/plain", body.as_bytes())];
        let err = bundle(&parts, None, false, NOVA_USER_DATA_LIMIT).unwrap_err();
        assert!(matches!(err, UserdataError::TooLarge { .. }));
        assert!(err.hint().unwrap().contains("--gzip"));
        let small = bundle(&parts, None, true, NOVA_USER_DATA_LIMIT).unwrap();
        assert!(small.gzipped && small.bytes.starts_with(&[0x1f, 0x8b]));
        assert!(small.encoded_len() < 2_000, "{}", small.encoded_len());
    }

    #[test]
    fn no_parts_is_an_error() {
        assert!(matches!(
            bundle(&[], None, false, NOVA_USER_DATA_LIMIT),
            Err(UserdataError::Empty)
        ));
    }
}
