//! MIME to the domain's [`InboundMail`], through the `mail-parser` crate (charsets through
//! its `full_encoding` feature: GBK, GB18030, GB2312, Big5 and the rest of encoding_rs).

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};
use steward_domain::mail_inbound::{strip_brackets, InboundMail, MailAddress, MailAttachment};

/// What the headers say before the message is parsed, for storing it.
pub(crate) struct Peek {
    pub message_id: Option<String>,
    pub sender: Option<String>,
    pub subject: Option<String>,
}

/// Reads only the headers; a message whose headers cannot be read is stored all the same.
pub(crate) fn peek(raw: &[u8]) -> Peek {
    match MessageParser::default().parse_headers(raw) {
        Some(m) => Peek {
            message_id: m.message_id().map(|id| strip_brackets(id).to_owned()).filter(|id| !id.is_empty()),
            sender: from(&m).map(|f| f.address.trim().to_lowercase()).filter(|a| !a.is_empty()),
            subject: m.subject().map(|s| s.chars().take(300).collect()),
        },
        None => Peek { message_id: None, sender: None, subject: None },
    }
}

/// The first `max` header lines of the message's root as received: folded lines joined,
/// values left undecoded (an encoded subject shows as sent).
pub(crate) fn header_lines(raw: &[u8], max: usize) -> Vec<(String, String)> {
    let Some(m) = MessageParser::default().parse_headers(raw) else { return Vec::new() };
    m.headers()
        .iter()
        .take(max)
        .map(|h| {
            let value = raw.get(h.offset_start as usize..h.offset_end as usize).unwrap_or_default();
            let value = String::from_utf8_lossy(value);
            let unfolded: Vec<&str> = value.split(['\r', '\n']).map(str::trim).filter(|l| !l.is_empty()).collect();
            (h.name().to_owned(), unfolded.join(" "))
        })
        .collect()
}

fn from(m: &Message<'_>) -> Option<MailAddress> {
    let addr = m.from()?.first()?;
    let address = addr.address()?.trim();
    if address.is_empty() {
        return None;
    }
    Some(MailAddress { name: addr.name().map(str::to_owned), address: address.to_owned() })
}

fn ids(value: &mail_parser::HeaderValue<'_>) -> Vec<String> {
    match (value.as_text_list(), value.as_text()) {
        (Some(list), _) => list.iter().map(|i| strip_brackets(i).to_owned()).collect(),
        (None, Some(one)) => one.split_whitespace().map(|i| strip_brackets(i).to_owned()).collect(),
        _ => Vec::new(),
    }
}

fn header_text(m: &Message<'_>, name: &str) -> Option<String> {
    m.headers().iter().find(|h| h.name().eq_ignore_ascii_case(name)).and_then(|h| h.value().as_text().map(|t| t.trim().to_owned()))
}

/// Parses the whole message. `None`: nothing of it could be read as a message.
pub(crate) fn parse(raw: &[u8]) -> Option<InboundMail> {
    let m = MessageParser::default().parse(raw)?;
    if m.headers().is_empty() {
        return None;
    }
    let mut text: Vec<String> = Vec::new();
    let mut html: Vec<String> = Vec::new();
    for part in m.text_bodies() {
        if let PartType::Text(t) = &part.body {
            text.push(t.to_string());
        }
    }
    for part in m.html_bodies() {
        if let PartType::Html(h) = &part.body {
            html.push(h.to_string());
        }
    }
    let attachments = m
        .attachments()
        .map(|part| MailAttachment {
            file_name: part.attachment_name().map(str::to_owned),
            content_type: part
                .content_type()
                .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("octet-stream")))
                .unwrap_or_else(|| "application/octet-stream".into()),
            inline: matches!(part.body, PartType::InlineBinary(_)),
            bytes: part.contents().to_vec(),
        })
        .collect();
    Some(InboundMail {
        message_id: m.message_id().map(|id| strip_brackets(id).to_owned()).filter(|id| !id.is_empty()),
        in_reply_to: ids(m.in_reply_to()),
        references: ids(m.references()),
        from: from(&m),
        subject: m.subject().map(str::to_owned),
        text: (!text.is_empty()).then(|| text.join("\n\n")),
        html: (!html.is_empty()).then(|| html.join("\n")),
        auto_submitted: header_text(&m, "Auto-Submitted"),
        precedence: header_text(&m, "Precedence"),
        delivery_failures: delivery_failures(&m),
        part_count: m.parts.len(),
        encoding_problem: m.parts.iter().any(|p| p.is_encoding_problem),
        mime_defect: mime_defect(&m, raw),
        attachments,
    })
}

/// A multipart root without a boundary, or whose closing boundary never comes.
fn mime_defect(m: &Message<'_>, raw: &[u8]) -> Option<String> {
    let content_type = m.root_part().content_type()?;
    if !content_type.ctype().eq_ignore_ascii_case("multipart") {
        return None;
    }
    let Some(boundary) = content_type.attribute("boundary").filter(|b| !b.is_empty()) else {
        return Some("a multipart message without a boundary".into());
    };
    let closing = format!("--{boundary}--");
    if !raw.windows(closing.len()).any(|w| w == closing.as_bytes()) {
        return Some(format!("the multipart never ends: no closing boundary `{closing}`"));
    }
    None
}

/// For a `multipart/report; report-type=delivery-status`: the recipients whose delivery
/// failed (RFC 3464 `Final-Recipient` with `Action: failed`).
fn delivery_failures(m: &Message<'_>) -> Option<Vec<String>> {
    let root = m.root_part().content_type()?;
    let is_report = root.ctype().eq_ignore_ascii_case("multipart")
        && root.subtype().is_some_and(|s| s.eq_ignore_ascii_case("report"))
        && root.attribute("report-type").is_some_and(|r| r.eq_ignore_ascii_case("delivery-status"));
    if !is_report {
        return None;
    }
    let status = m.parts.iter().find(|p| p.is_content_type("message", "delivery-status"))?;
    let text = String::from_utf8_lossy(status.contents()).into_owned();
    let mut failed = Vec::new();
    // Per-recipient fields come in blocks separated by blank lines.
    for block in text.replace("\r\n", "\n").split("\n\n") {
        let mut recipient = None;
        let mut action_failed = false;
        for line in block.lines() {
            let Some((name, value)) = line.split_once(':') else { continue };
            match name.trim().to_ascii_lowercase().as_str() {
                "final-recipient" | "original-recipient" if recipient.is_none() || name.trim().eq_ignore_ascii_case("final-recipient") => {
                    recipient = Some(value.split_once(';').map_or(value, |(_, a)| a).trim().to_owned());
                }
                "action" => action_failed = value.trim().eq_ignore_ascii_case("failed"),
                _ => {}
            }
        }
        if let (Some(r), true) = (recipient, action_failed) {
            failed.push(r);
        }
    }
    Some(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_subject_and_body_decode() {
        // "打印机坏了" and "请帮忙" in GBK.
        let subject = [0xB4, 0xF2, 0xD3, 0xA1, 0xBB, 0xFA, 0xBB, 0xB5, 0xC1, 0xCB];
        let body = [0xC7, 0xEB, 0xB0, 0xEF, 0xC3, 0xA6];
        // A tiny base64 for the encoded words, so the fixture is built by code.
        let b64 = |b: &[u8]| {
            const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let mut out = String::new();
            for chunk in b.chunks(3) {
                let n =
                    (u32::from(chunk[0]) << 16) | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8) | u32::from(*chunk.get(2).unwrap_or(&0));
                for i in 0..4 {
                    if i <= chunk.len() {
                        out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
                    } else {
                        out.push('=');
                    }
                }
            }
            out
        };
        let mut raw = format!(
            "From: =?GBK?B?{}?= <li@customer.example>\r\nSubject: =?GBK?B?{}?=\r\nMessage-ID: <gbk@customer.example>\r\n\
             Content-Type: text/plain; charset=GBK\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
            b64(&[0xC0, 0xEE, 0xC0, 0xD7]),
            b64(&subject)
        )
        .into_bytes();
        raw.extend_from_slice(&body);
        let m = parse(&raw).expect("parses");
        assert_eq!(m.subject.as_deref(), Some("打印机坏了"));
        assert_eq!(m.text.as_deref().map(str::trim), Some("请帮忙"));
        assert_eq!(m.from.as_ref().and_then(|f| f.name.as_deref()), Some("李雷"));
        assert_eq!(m.message_id.as_deref(), Some("gbk@customer.example"));
        assert!(!m.encoding_problem);
    }

    #[test]
    fn a_delivery_report_names_its_failed_recipients() {
        let raw = "From: MAILER-DAEMON@mx.example\r\nSubject: Undelivered\r\nAuto-Submitted: auto-replied\r\n\
                   Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
                   --b\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n\
                   --b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\n\
                   Final-Recipient: rfc822; gone@customer.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n\
                   Final-Recipient: rfc822; fine@customer.example\r\nAction: delayed\r\n\r\n--b--\r\n";
        let m = parse(raw.as_bytes()).expect("parses");
        assert_eq!(m.delivery_failures, Some(vec!["gone@customer.example".to_owned()]));
    }

    #[test]
    fn a_multipart_without_its_end_is_a_defect() {
        let raw = "From: a@b.example\r\nContent-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n";
        assert!(parse(raw.as_bytes()).expect("parses").mime_defect.is_some());
        let raw = "From: a@b.example\r\nContent-Type: multipart/mixed\r\n\r\nhi\r\n";
        assert!(parse(raw.as_bytes()).expect("parses").mime_defect.is_some());
    }
}
