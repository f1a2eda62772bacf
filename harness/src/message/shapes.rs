//! The corpus: named message shapes as real clients send them (`smtp-harness messages`,
//! `probe --message NAME`). Each builds the same [`Message`] every time: fixed Date and
//! Message-ID, fixed content, so transcripts and stored messages compare across runs.

use super::{
    Body, Charset, Disposition, Filename, FilenameForm, HeaderText, Mailbox, Message, MessageError,
    Part, WordEncoding,
};

/// One shape of the corpus.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub name: &'static str,
    pub summary: &'static str,
    pub build: fn() -> Message,
    /// Envelope addresses the shape needs (the international shape's UTF-8 mailboxes),
    /// instead of the flow's own: (sender, recipients).
    pub envelope: Option<(&'static str, &'static [&'static str])>,
    /// Client checks the shape breaks on purpose (with the reason in its summary).
    pub breaks: &'static [&'static str],
}

pub const SHAPES: &[Shape] = &[
    Shape {
        name: "plain-ascii",
        summary: "text/plain, US-ASCII, 7bit",
        build: plain_ascii,
        envelope: None,
        breaks: &[],
    },
    Shape {
        name: "plain-utf8",
        summary: "text/plain, UTF-8 body sent 8bit (BODY=8BITMIME); quoted-printable without 8BITMIME",
        build: plain_utf8,
        envelope: None,
        breaks: &[],
    },
    Shape {
        name: "alternative",
        summary: "multipart/alternative: text/plain and text/html, UTF-8",
        build: alternative,
        envelope: None,
        breaks: &[],
    },
    Shape {
        name: "mixed-attachments",
        summary: "multipart/mixed: text, a PDF and a text attachment",
        build: mixed_attachments,
        envelope: None,
        breaks: &[],
    },
    Shape {
        name: "related-inline-images",
        summary: "multipart/related: HTML with two inline PNG images by Content-ID",
        build: related_inline_images,
        envelope: None,
        breaks: &[],
    },
    Shape {
        name: "nested",
        summary: "mixed(alternative(text, related(html, image)), attachment) with GBK Subject and display names",
        build: nested,
        envelope: None,
        breaks: &[],
    },
    Shape {
        name: "headers-utf8-q",
        summary: "Subject and display names in UTF-8 Q encoded-words (European text), folded",
        build: headers_utf8_q,
        envelope: None,
        breaks: &[],
    },
    Shape {
        name: "headers-utf8-b",
        summary: "Subject and display names in UTF-8 B encoded-words (Chinese), folded between characters",
        build: headers_utf8_b,
        envelope: None,
        breaks: &[],
    },
    Shape {
        name: "headers-gbk",
        summary: "Subject and display names as =?GBK?B?...?= (QQ, 163), folded between characters",
        build: headers_gbk,
        envelope: None,
        breaks: &[],
    },
    Shape {
        name: "filename-rfc2231",
        summary: "Chinese attachment names in RFC 2231 (UTF-8 with continuations, and GBK)",
        build: filename_rfc2231,
        envelope: None,
        breaks: &[],
    },
    Shape {
        name: "filename-encoded-word",
        summary: "the legacy form many clients send: name=\"=?UTF-8?B?...?=\" (breaks C-2047-NOT-IN-MIME-PARAMS on purpose)",
        build: filename_encoded_word,
        envelope: None,
        breaks: &["C-2047-NOT-IN-MIME-PARAMS"],
    },
    Shape {
        name: "large-attachment",
        summary: "a 25 MiB attachment (generated, streamed, SIZE declared), a 998-octet line (past the SHOULD of 78, on purpose) and lines starting with '.'",
        build: large_attachment,
        envelope: None,
        // RFC 5322 §2.1.1: 998 is the limit (MUST), 78 the SHOULD this shape tests past.
        breaks: &["C-5322-LINE-998"],
    },
    Shape {
        name: "international",
        summary: "UTF-8 addresses and header fields (SMTPUTF8, RFC 6531/6532) with a message/global attachment",
        build: international,
        envelope: Some(("发件人@test.example", &["收件人@test.example"])),
        breaks: &[],
    },
];

/// The shape named `name`.
pub fn shape(name: &str) -> Result<&'static Shape, MessageError> {
    SHAPES
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| MessageError::UnknownShape(name.to_owned()))
}

/// The message of the shape named `name`.
pub fn find(name: &str) -> Result<Message, MessageError> {
    shape(name).map(|s| (s.build)())
}

/// The 25 MiB of `large-attachment`.
pub const LARGE_LEN: u64 = 25 * 1024 * 1024;
pub const LARGE_SEED: u64 = 0x5EED_0015;

const DATE: &str = "Thu, 1 Jan 2026 00:00:00 +0000";
const FROM: &str = "harness@test.example";
const TO: &str = "recipient@test.example";

fn message(id: &str, subject: HeaderText, body: Part) -> Message {
    Message {
        from: Mailbox::named(HeaderText::ascii("Harness"), FROM),
        to: vec![Mailbox::bare(TO)],
        subject,
        date: DATE.to_owned(),
        message_id: format!("{id}@harness.test.example"),
        utf8_headers: false,
        body,
    }
}

const PNG_RED: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xDE, 0x00, 0x00, 0x00, 0x0C, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x38, 0x21, 0x27, 0x07,
    0x00, 0x02, 0xB6, 0x01, 0x05, 0x34, 0xA6, 0x75, 0xAA, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E,
    0x44, 0xAE, 0x42, 0x60, 0x82,
];

const PNG_BLUE: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xDE, 0x00, 0x00, 0x00, 0x0C, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x90, 0x93, 0x3B, 0x01,
    0x00, 0x01, 0x62, 0x01, 0x05, 0x11, 0x1B, 0xA3, 0x21, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E,
    0x44, 0xAE, 0x42, 0x60, 0x82,
];

/// A small PDF (one empty page); its second line holds 8-bit octets, as real PDFs do.
fn pdf() -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    pdf.extend_from_slice(
        b"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n\
2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n\
3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >> endobj\n\
trailer << /Root 1 0 R >>\n%%EOF\n",
    );
    pdf
}

fn inline_image(cid: &str, name: &str, png: &[u8]) -> Part {
    Part {
        media_type: "image/png".to_owned(),
        charset: None,
        disposition: Some(Disposition::Inline),
        filename: Some(Filename {
            name: name.to_owned(),
            charset: Charset::Utf8,
            form: FilenameForm::Rfc2231,
        }),
        content_id: Some(cid.to_owned()),
        body: Body::Bytes(png.to_vec()),
    }
}

fn plain_ascii() -> Message {
    message(
        "plain-ascii",
        HeaderText::ascii("smtp-harness: plain ASCII"),
        Part::text(
            "text/plain",
            Charset::UsAscii,
            "This message was sent by smtp-harness.\n.This line starts with a dot.\n",
        ),
    )
}

/// Other scripts: base64 when it must be downgraded.
const UTF8_TEXT: &str = "Grüße aus Zürich, naïve café, Ελληνικά, русский.\n\
你好，这是一封 UTF-8 编码的邮件。\n\
.Diese Zeile beginnt mit einem Punkt.\n";

/// Mostly ASCII: quoted-printable when it must be downgraded.
const LATIN_TEXT: &str = "Grüße aus Zürich! This message has an 8-bit body: UTF-8 text
that a server without 8BITMIME must not receive as it is, so a careful
client converts it first: mostly ASCII text goes as quoted-printable,
other scripts as base64.
naïve café, Ελλάδα, 你好。
.Diese Zeile beginnt mit einem Punkt.
";

fn plain_utf8() -> Message {
    message(
        "plain-utf8",
        HeaderText::ascii("smtp-harness: plain UTF-8 body"),
        Part::text("text/plain", Charset::Utf8, LATIN_TEXT),
    )
}

fn alternative() -> Message {
    message(
        "alternative",
        HeaderText::ascii("smtp-harness: text and HTML"),
        Part::multipart(
            "alternative",
            vec![
                Part::text("text/plain", Charset::Utf8, UTF8_TEXT),
                Part::text(
                    "text/html",
                    Charset::Utf8,
                    "<html><body>\n<p>Grüße aus Zürich.</p>\n<p>你好，世界。</p>\n</body></html>\n",
                ),
            ],
        ),
    )
}

fn mixed_attachments() -> Message {
    let mut notes = Part::attachment(
        "text/plain",
        "notes.txt",
        Body::Text("Attached notes, line one.\r\nLine two.\r\n".to_owned()),
    );
    notes.charset = Some(Charset::UsAscii);
    message(
        "mixed-attachments",
        HeaderText::ascii("smtp-harness: two attachments"),
        Part::multipart(
            "mixed",
            vec![
                Part::text(
                    "text/plain",
                    Charset::UsAscii,
                    "Please find the report and the notes attached.\n",
                ),
                Part::attachment("application/pdf", "report.pdf", Body::Bytes(pdf())),
                notes,
            ],
        ),
    )
}

fn related(html: &str) -> Part {
    Part::multipart(
        "related",
        vec![
            Part::text("text/html", Charset::Utf8, html),
            inline_image("logo@harness.test.example", "logo.png", PNG_RED),
            inline_image("chart@harness.test.example", "chart.png", PNG_BLUE),
        ],
    )
}

fn related_inline_images() -> Message {
    message(
        "related-inline-images",
        HeaderText::ascii("smtp-harness: inline images"),
        related(
            "<html><body><p>Logo: <img src=\"cid:logo@harness.test.example\"></p>\n\
<p>Chart: <img src=\"cid:chart@harness.test.example\"></p></body></html>\n",
        ),
    )
}

const GBK_SUBJECT: &str =
    "关于第三季度销售报告与明年预算调整的会议通知：请各部门负责人准时参加并提前准备材料";

fn nested() -> Message {
    let mut message = message(
        "nested",
        HeaderText::new(GBK_SUBJECT, Charset::Gbk, WordEncoding::B),
        Part::multipart(
            "mixed",
            vec![
                Part::multipart(
                    "alternative",
                    vec![
                        Part::text(
                            "text/plain",
                            Charset::Utf8,
                            "各位好：\n会议通知见附件。\n.Logo 见 HTML 版本。\n",
                        ),
                        Part::multipart(
                            "related",
                            vec![
                                Part::text(
                                    "text/html",
                                    Charset::Utf8,
                                    "<html><body>\n<p>各位好：会议通知见附件。</p>\n\
<img src=\"cid:logo@harness.test.example\">\n</body></html>\n",
                                ),
                                inline_image("logo@harness.test.example", "logo.png", PNG_RED),
                            ],
                        ),
                    ],
                ),
                Part::attachment("application/pdf", "季度报告.pdf", Body::Bytes(pdf())),
            ],
        ),
    );
    message.from = Mailbox::named(
        HeaderText::new("张伟（销售部）", Charset::Gbk, WordEncoding::B),
        FROM,
    );
    message.to = vec![Mailbox::named(
        HeaderText::new("王芳", Charset::Gbk, WordEncoding::B),
        TO,
    )];
    message
}

fn headers_utf8_q() -> Message {
    let mut message = message(
        "headers-utf8-q",
        HeaderText::new(
            "Réunion d'équipe : résumé des décisions, Größe der Änderungen, naïve façade — prochaines étapes",
            Charset::Utf8,
            WordEncoding::Q,
        ),
        Part::text("text/plain", Charset::UsAscii, "Encoded-words in Q.\n"),
    );
    message.from = Mailbox::named(
        HeaderText::new("Jörg Müller", Charset::Utf8, WordEncoding::Q),
        FROM,
    );
    message.to = vec![
        Mailbox::named(
            HeaderText::new("François Lefèvre", Charset::Utf8, WordEncoding::Q),
            TO,
        ),
        Mailbox::named(HeaderText::ascii("O'Brien, Pat"), "pat@test.example"),
    ];
    message
}

fn headers_utf8_b() -> Message {
    let mut message = message(
        "headers-utf8-b",
        HeaderText::new(
            "关于第三季度销售报告与明年预算调整的会议通知：请各部门负责人准时参加并提前准备材料（UTF-8）",
            Charset::Utf8,
            WordEncoding::B,
        ),
        Part::text("text/plain", Charset::UsAscii, "Encoded-words in B.\n"),
    );
    message.from = Mailbox::named(
        HeaderText::new("张伟（销售部）", Charset::Utf8, WordEncoding::B),
        FROM,
    );
    message.to = vec![Mailbox::named(
        HeaderText::new("王芳", Charset::Utf8, WordEncoding::B),
        TO,
    )];
    message
}

fn headers_gbk() -> Message {
    let mut message = message(
        "headers-gbk",
        HeaderText::new(GBK_SUBJECT, Charset::Gbk, WordEncoding::B),
        Part::text("text/plain", Charset::Utf8, "各位好：\n会议通知如题。\n"),
    );
    message.from = Mailbox::named(
        HeaderText::new("张伟（销售部）", Charset::Gbk, WordEncoding::B),
        FROM,
    );
    message.to = vec![Mailbox::named(
        HeaderText::new("王芳", Charset::Gbk, WordEncoding::B),
        TO,
    )];
    message
}

fn attachment_named(
    media_type: &str,
    name: &str,
    charset: Charset,
    form: FilenameForm,
    body: Body,
) -> Part {
    let mut part = Part::attachment(media_type, name, body);
    part.filename = Some(Filename {
        name: name.to_owned(),
        charset,
        form,
    });
    part
}

fn filename_rfc2231() -> Message {
    message(
        "filename-rfc2231",
        HeaderText::ascii("smtp-harness: Chinese file names (RFC 2231)"),
        Part::multipart(
            "mixed",
            vec![
                Part::text("text/plain", Charset::UsAscii, "Three attachments.\n"),
                attachment_named(
                    "application/pdf",
                    "季度报告.pdf",
                    Charset::Utf8,
                    FilenameForm::Rfc2231,
                    Body::Bytes(pdf()),
                ),
                attachment_named(
                    "application/vnd.ms-excel",
                    "第三季度销售数据汇总表（最终版）第三季度销售数据汇总表（最终版）.xls",
                    Charset::Utf8,
                    FilenameForm::Rfc2231,
                    Body::Bytes(b"PK\x03\x04 not really a spreadsheet".to_vec()),
                ),
                attachment_named(
                    "application/pdf",
                    "季度报告.pdf",
                    Charset::Gbk,
                    FilenameForm::Rfc2231,
                    Body::Bytes(pdf()),
                ),
            ],
        ),
    )
}

fn filename_encoded_word() -> Message {
    message(
        "filename-encoded-word",
        HeaderText::ascii("smtp-harness: Chinese file names (legacy encoded-words)"),
        Part::multipart(
            "mixed",
            vec![
                Part::text("text/plain", Charset::UsAscii, "Two attachments.\n"),
                attachment_named(
                    "application/pdf",
                    "季度报告.pdf",
                    Charset::Utf8,
                    FilenameForm::EncodedWord,
                    Body::Bytes(pdf()),
                ),
                attachment_named(
                    "application/vnd.ms-excel",
                    "第三季度销售数据汇总表.xls",
                    Charset::Gbk,
                    FilenameForm::EncodedWord,
                    Body::Bytes(b"PK\x03\x04 not really a spreadsheet".to_vec()),
                ),
            ],
        ),
    )
}

fn large_attachment() -> Message {
    let mut text = String::from("A 25 MiB attachment follows. The next line is 998 octets long.\n");
    text.push_str(&"x".repeat(998));
    text.push_str("\n.This line starts with a dot.\n..And this one with two.\n.\n");
    message(
        "large-attachment",
        HeaderText::ascii("smtp-harness: 25 MiB attachment"),
        Part::multipart(
            "mixed",
            vec![
                Part::text("text/plain", Charset::UsAscii, &text),
                Part::attachment(
                    "application/octet-stream",
                    "large.bin",
                    Body::Generated {
                        seed: LARGE_SEED,
                        len: LARGE_LEN,
                    },
                ),
            ],
        ),
    )
}

fn international() -> Message {
    let inner = Message {
        from: Mailbox::named(HeaderText::ascii("李雷"), "李雷@test.example"),
        to: vec![Mailbox::named(
            HeaderText::ascii("韩梅梅"),
            "韩梅梅@test.example",
        )],
        subject: HeaderText::ascii("转发的邮件：会议纪要"),
        date: DATE.to_owned(),
        message_id: "forwarded@harness.test.example".to_owned(),
        utf8_headers: true,
        body: Part::text("text/plain", Charset::Utf8, "会议纪要：预算通过。\n"),
    };
    Message {
        from: Mailbox::named(HeaderText::ascii("发件人"), "发件人@test.example"),
        to: vec![Mailbox::named(
            HeaderText::ascii("收件人"),
            "收件人@test.example",
        )],
        subject: HeaderText::ascii("国际化邮件地址测试：转发一封邮件"),
        date: DATE.to_owned(),
        message_id: "international@harness.test.example".to_owned(),
        utf8_headers: true,
        body: Part::multipart(
            "mixed",
            vec![
                Part::text("text/plain", Charset::Utf8, "转发的邮件见附件。\n"),
                Part {
                    media_type: "message/global".to_owned(),
                    charset: None,
                    disposition: Some(Disposition::Attachment),
                    filename: Some(Filename {
                        name: "会议纪要.eml".to_owned(),
                        charset: Charset::Utf8,
                        form: FilenameForm::Rfc2231,
                    }),
                    content_id: None,
                    body: Body::Message(Box::new(inner)),
                },
            ],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_shape_builds() {
        let mut names: Vec<&str> = SHAPES.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SHAPES.len());
        for shape in SHAPES {
            let message = (shape.build)();
            assert!(!message.body.leaves().is_empty(), "{}", shape.name);
        }
        assert!(matches!(find("nope"), Err(MessageError::UnknownShape(_))));
    }
}
