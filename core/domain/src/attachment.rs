//! Files attached to a ticket or to one of its comments: the name rule, the type sniffed from
//! the bytes (never the client's word), the caps per file and per ticket, the content digest
//! that stores each file once, and the type a download is served as.

use super::event::{Actor, EventData};
use super::ids::{AttachmentId, TicketId};
use super::text::forbidden_character;
use super::ticket::Visibility;
use super::time::Timestamp;
use super::FieldError;
use sha2::{Digest, Sha256};

/// The longest file name kept, in characters (a Chinese name of 200 characters survives whole).
pub const MAX_FILE_NAME_CHARS: usize = 200;

/// A file name safe to store and to send back in `Content-Disposition`: one path component,
/// no control characters or noncharacters, at most [`MAX_FILE_NAME_CHARS`]; any other Unicode
/// is kept as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName(String);

impl FileName {
    /// The strict form for names a client typed or chose: refused, naming `field`, rather than
    /// altered, so what is stored is what was sent (trimmed).
    pub fn parse(field: &str, raw: &str) -> Result<FileName, FieldError> {
        let name = raw.trim();
        if name.is_empty() || name == "." || name == ".." {
            return Err(FieldError::new(field, "a file needs a name"));
        }
        if name.contains(['/', '\\']) {
            return Err(FieldError::new(field, "a file name must not contain `/` or `\\`"));
        }
        if let Some(c) = forbidden_character(name).or_else(|| name.chars().find(|c| c.is_control())) {
            return Err(FieldError::new(
                field,
                format!("a file name must not contain control characters or noncharacters (found U+{:04X})", u32::from(c)),
            ));
        }
        if name.chars().count() > MAX_FILE_NAME_CHARS {
            return Err(FieldError::new(field, format!("a file name is at most {MAX_FILE_NAME_CHARS} characters")));
        }
        Ok(FileName(name.to_owned()))
    }

    /// The lenient form for names that arrive with the file and cannot be sent back (a mail
    /// part's name): the last path component, forbidden characters dropped, cut to the cap
    /// keeping the extension; `attachment` when nothing is left.
    pub fn sanitize(raw: &str) -> FileName {
        let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
        let cleaned: String = last.chars().filter(|&c| !c.is_control() && forbidden_character(&c.to_string()).is_none()).collect();
        let cleaned = cleaned.trim();
        if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
            return FileName("attachment".into());
        }
        if cleaned.chars().count() <= MAX_FILE_NAME_CHARS {
            return FileName(cleaned.to_owned());
        }
        let extension: String = match cleaned.rsplit_once('.') {
            Some((_, ext)) if !ext.is_empty() && ext.chars().count() <= 16 => format!(".{ext}"),
            _ => String::new(),
        };
        let keep = MAX_FILE_NAME_CHARS - extension.chars().count();
        let stem: String = cleaned.chars().take(keep).collect();
        FileName(format!("{}{extension}", stem.trim_end()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A file's SHA-256 in lowercase hex: the key its bytes are stored under, so the same file is
/// stored once however often it is attached.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentDigest(String);

impl ContentDigest {
    pub fn of(bytes: &[u8]) -> ContentDigest {
        ContentDigest(hex::encode(Sha256::digest(bytes)))
    }

    /// Parses a stored digest: 64 lowercase hex digits.
    pub fn parse(field: &str, text: &str) -> Result<ContentDigest, FieldError> {
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            Ok(ContentDigest(text.to_owned()))
        } else {
            Err(FieldError::new(field, format!("`{text}` is not a SHA-256 digest in lowercase hex")))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where the blob lives below the store's root: `ab/cd/<digest>`, so no directory holds more
    /// than a 65 536th of the files.
    pub fn blob_path(&self) -> String {
        format!("{}/{}/{}", &self.0[..2], &self.0[2..4], self.0)
    }
}

/// A type sniffed from the leading bytes, with the MIME type it is stored as.
struct Signature {
    offset: usize,
    magic: &'static [u8],
    mime: &'static str,
}

/// Magic numbers of the files people attach to tickets. The first match wins, so longer or
/// more specific signatures come first.
const SIGNATURES: &[Signature] = &[
    Signature { offset: 0, magic: b"\x89PNG\r\n\x1a\n", mime: "image/png" },
    Signature { offset: 0, magic: b"\xff\xd8\xff", mime: "image/jpeg" },
    Signature { offset: 0, magic: b"GIF87a", mime: "image/gif" },
    Signature { offset: 0, magic: b"GIF89a", mime: "image/gif" },
    Signature { offset: 8, magic: b"WEBP", mime: "image/webp" },
    Signature { offset: 0, magic: b"BM", mime: "image/bmp" },
    Signature { offset: 0, magic: b"II*\x00", mime: "image/tiff" },
    Signature { offset: 0, magic: b"MM\x00*", mime: "image/tiff" },
    Signature { offset: 0, magic: b"%PDF-", mime: "application/pdf" },
    Signature { offset: 0, magic: b"PK\x03\x04", mime: "application/zip" },
    Signature { offset: 0, magic: b"\x1f\x8b", mime: "application/gzip" },
    Signature { offset: 0, magic: b"7z\xbc\xaf\x27\x1c", mime: "application/x-7z-compressed" },
    Signature { offset: 0, magic: b"Rar!\x1a\x07", mime: "application/vnd.rar" },
    Signature { offset: 0, magic: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", mime: "application/x-ole-storage" },
    Signature { offset: 4, magic: b"ftyp", mime: "video/mp4" },
    Signature { offset: 0, magic: b"ID3", mime: "audio/mpeg" },
    Signature { offset: 0, magic: b"OggS", mime: "audio/ogg" },
];

/// The type of bytes nothing recognises.
pub const UNKNOWN_TYPE: &str = "application/octet-stream";
/// Text in UTF-8 (HTML and SVG included: they are stored, and served, as plain text).
pub const TEXT_TYPE: &str = "text/plain; charset=utf-8";

/// The content's type from its magic bytes; valid UTF-8 without control characters (other than
/// tab, line breaks and form feed) is text; anything else is [`UNKNOWN_TYPE`].
pub fn sniff_content_type(bytes: &[u8]) -> &'static str {
    for s in SIGNATURES {
        if bytes.len() >= s.offset + s.magic.len() && &bytes[s.offset..s.offset + s.magic.len()] == s.magic {
            return s.mime;
        }
    }
    let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    match std::str::from_utf8(text) {
        Ok(t) if !t.is_empty() && !t.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0c')) => TEXT_TYPE,
        _ => UNKNOWN_TYPE,
    }
}

/// The types a download is labelled with as they are; every other type goes out as
/// [`UNKNOWN_TYPE`], so no browser renders stored bytes as a page or a script.
const SERVED_AS_IS: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/bmp",
    "application/pdf",
    "application/zip",
    "application/gzip",
    TEXT_TYPE,
];

/// The `Content-Type` of a download (always with `Content-Disposition: attachment` and nosniff).
pub fn download_content_type(stored: &str) -> &'static str {
    SERVED_AS_IS.iter().copied().find(|t| *t == stored).unwrap_or(UNKNOWN_TYPE)
}

/// The caps a deployment sets (`[attachments]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachmentLimits {
    pub max_file_bytes: u64,
    /// All of a ticket's live attachments together; deleted ones no longer count.
    pub max_ticket_bytes: u64,
}

/// Why an upload is refused before anything is stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadRefused {
    #[error("the file is empty")]
    Empty,
    #[error("a file is at most {limit} bytes; this one has {size}")]
    FileTooLarge { size: u64, limit: u64 },
    #[error("a ticket's attachments come to at most {limit} bytes; it has {used} and these add {adding}")]
    TicketFull { used: u64, adding: u64, limit: u64 },
}

impl AttachmentLimits {
    /// Checks one upload of `sizes` onto a ticket whose live attachments hold `used` bytes.
    /// Each file is checked alone first, so the answer names the file at fault (its index).
    pub fn check(&self, used: u64, sizes: &[u64]) -> Result<(), (Option<usize>, UploadRefused)> {
        for (i, &size) in sizes.iter().enumerate() {
            if size == 0 {
                return Err((Some(i), UploadRefused::Empty));
            }
            if size > self.max_file_bytes {
                return Err((Some(i), UploadRefused::FileTooLarge { size, limit: self.max_file_bytes }));
            }
        }
        let adding = sizes.iter().sum::<u64>();
        if used.saturating_add(adding) > self.max_ticket_bytes {
            return Err((None, UploadRefused::TicketFull { used, adding, limit: self.max_ticket_bytes }));
        }
        Ok(())
    }
}

/// An attachment as stored: metadata only; the bytes are kept under [`Attachment::sha256`].
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub id: AttachmentId,
    pub ticket_id: TicketId,
    /// The comment it belongs to (the comment event's `seq`), if any.
    pub comment_seq: Option<i64>,
    pub file_name: String,
    /// Sniffed from the bytes when they arrived.
    pub content_type: String,
    pub size: u64,
    pub sha256: ContentDigest,
    /// `internal` when it belongs to an internal comment: partners never see it.
    pub visibility: Visibility,
    pub added_by: Actor,
    pub added_at: Timestamp,
    pub deleted_at: Option<Timestamp>,
}

impl Attachment {
    /// A new attachment of `bytes`: its type sniffed and its digest taken here, so no caller
    /// can label a file.
    pub fn new(
        ticket_id: TicketId,
        comment: Option<(i64, Visibility)>,
        file_name: FileName,
        bytes: &[u8],
        added_by: Actor,
        at: Timestamp,
    ) -> Attachment {
        Attachment {
            id: AttachmentId::new_at(at),
            ticket_id,
            comment_seq: comment.map(|(seq, _)| seq),
            file_name: file_name.into_string(),
            content_type: sniff_content_type(bytes).to_owned(),
            size: bytes.len() as u64,
            sha256: ContentDigest::of(bytes),
            visibility: comment.map_or(Visibility::Public, |(_, v)| v),
            added_by,
            added_at: at,
            deleted_at: None,
        }
    }

    pub fn added_event(&self) -> EventData {
        EventData::AttachmentAdded {
            attachment_id: self.id,
            file_name: self.file_name.clone(),
            content_type: self.content_type.clone(),
            size: self.size,
            sha256: self.sha256.as_str().to_owned(),
            comment_seq: self.comment_seq,
            visibility: self.visibility,
        }
    }

    pub fn deleted_event(&self) -> EventData {
        EventData::AttachmentDeleted { attachment_id: self.id, file_name: self.file_name.clone(), visibility: self.visibility }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_unicode_and_refuse_paths_and_controls() {
        assert_eq!(FileName::parse("file", "  报告（最终版）.pdf ").unwrap().as_str(), "报告（最终版）.pdf");
        assert_eq!(FileName::parse("file", "Ünïcödé résumé.docx").unwrap().as_str(), "Ünïcödé résumé.docx");
        for bad in ["", "  ", ".", "..", "a/b.txt", "..\\boot.ini", "a\u{0}b", "bell\u{7}.txt", "x\u{85}y", "\u{fffe}"] {
            let e = FileName::parse("file", bad).unwrap_err();
            assert_eq!(e.field, "file", "{bad:?}");
        }
        let long = "长".repeat(MAX_FILE_NAME_CHARS);
        assert!(FileName::parse("file", &long).is_ok());
        assert!(FileName::parse("file", &format!("{long}x")).is_err());
    }

    #[test]
    fn sanitising_keeps_the_last_component_and_the_extension() {
        assert_eq!(FileName::sanitize("C:\\Users\\王\\发票.pdf").as_str(), "发票.pdf");
        assert_eq!(FileName::sanitize("../../etc/passwd").as_str(), "passwd");
        assert_eq!(FileName::sanitize("a\u{0}b\r\n.txt").as_str(), "ab.txt");
        assert_eq!(FileName::sanitize("/").as_str(), "attachment");
        assert_eq!(FileName::sanitize("..").as_str(), "attachment");
        let cut = FileName::sanitize(&format!("{}.jpeg", "图".repeat(300)));
        assert_eq!(cut.as_str().chars().count(), MAX_FILE_NAME_CHARS);
        assert!(cut.as_str().ends_with("图.jpeg"));
        assert!(FileName::parse("file", cut.as_str()).is_ok(), "a sanitised name passes the strict rule");
    }

    #[test]
    fn types_come_from_the_bytes() {
        assert_eq!(sniff_content_type(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), "image/png");
        assert_eq!(sniff_content_type(b"\xff\xd8\xff\xe0\0\x10JFIF"), "image/jpeg");
        assert_eq!(sniff_content_type(b"%PDF-1.7\n"), "application/pdf");
        assert_eq!(sniff_content_type(b"RIFF\0\0\0\0WEBPVP8 "), "image/webp");
        assert_eq!(sniff_content_type(b"PK\x03\x04rest"), "application/zip");
        assert_eq!(sniff_content_type("打印机坏了\n".as_bytes()), TEXT_TYPE);
        assert_eq!(sniff_content_type(b"<html><script>alert(1)</script></html>"), TEXT_TYPE);
        assert_eq!(sniff_content_type(b"MZ\x90\x00\x03\x00"), UNKNOWN_TYPE);
        assert_eq!(sniff_content_type(b"\xff\xfe\x00\x00"), UNKNOWN_TYPE);
    }

    #[test]
    fn downloads_are_never_labelled_as_markup() {
        assert_eq!(download_content_type("image/png"), "image/png");
        assert_eq!(download_content_type(TEXT_TYPE), TEXT_TYPE);
        for risky in ["text/html", "image/svg+xml", "application/javascript", "application/x-ole-storage", "video/mp4"] {
            assert_eq!(download_content_type(risky), UNKNOWN_TYPE, "{risky}");
        }
    }

    #[test]
    fn caps_name_the_file_at_fault_then_the_ticket() {
        let limits = AttachmentLimits { max_file_bytes: 10, max_ticket_bytes: 25 };
        assert_eq!(limits.check(0, &[10, 10]), Ok(()));
        assert_eq!(limits.check(0, &[3, 0]), Err((Some(1), UploadRefused::Empty)));
        assert_eq!(limits.check(0, &[11]), Err((Some(0), UploadRefused::FileTooLarge { size: 11, limit: 10 })));
        assert_eq!(limits.check(20, &[3, 3]), Err((None, UploadRefused::TicketFull { used: 20, adding: 6, limit: 25 })));
        assert_eq!(limits.check(20, &[5]), Ok(()));
    }

    #[test]
    fn the_same_bytes_have_the_same_digest_and_path() {
        let d = ContentDigest::of(b"hello");
        assert_eq!(d.as_str(), "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
        assert_eq!(d.blob_path(), format!("2c/f2/{}", d.as_str()));
        assert_eq!(ContentDigest::parse("sha256", d.as_str()), Ok(d));
        assert!(ContentDigest::parse("sha256", "2CF2").is_err());
    }
}
