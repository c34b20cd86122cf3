//! The texts of the mail screens (`/admin/mail`: the quarantine, a message, the outbox) in
//! English and Simplified Chinese, with the mail's closed sets named in words. Kept beside the
//! screens, as the SLA administration's are; a missing translation is a compile error.

use crate::i18n::Lang;
use steward_domain::mail::{MailState, NotificationKind};
use steward_domain::mail_inbound::{InboundMailState, MailReason};

pub struct MailTexts {
    pub quarantine: &'static str,
    pub quarantine_about: &'static str,
    pub outbox: &'static str,
    pub outbox_about: &'static str,
    pub admin: &'static str,
    pub quarantine_intro: &'static str,
    pub quarantine_empty: &'static str,
    pub received: &'static str,
    pub from: &'static str,
    pub subject: &'static str,
    pub reason: &'static str,
    pub size: &'static str,
    pub no_subject: &'static str,
    pub no_sender: &'static str,
    pub next_page: &'static str,
    pub first_page: &'static str,
    pub imported: &'static str,
    pub ignored: &'static str,
    pub quarantined_again: &'static str,
    pub message_title: &'static str,
    pub source: &'static str,
    pub message_id: &'static str,
    pub state: &'static str,
    pub detail: &'static str,
    pub attempts: &'static str,
    pub ticket: &'static str,
    pub headers: &'static str,
    pub header: &'static str,
    pub value: &'static str,
    pub text: &'static str,
    pub no_text: &'static str,
    pub download: &'static str,
    pub retry_heading: &'static str,
    pub retry_hint: &'static str,
    pub retry: &'static str,
    pub make_ticket: &'static str,
    pub make_ticket_hint: &'static str,
    pub title: &'static str,
    pub customer_name: &'static str,
    pub customer_contact: &'static str,
    pub process: &'static str,
    pub default_process: &'static str,
    pub make_ticket_button: &'static str,
    /// `{state}`: the message's state in words.
    pub not_quarantined: &'static str,
    pub refused: &'static str,
    pub outbox_intro: &'static str,
    pub outbox_empty: &'static str,
    pub queued_at: &'static str,
    pub notification: &'static str,
    pub to: &'static str,
    pub last_error: &'static str,
    pub actions: &'static str,
    pub next_attempt: &'static str,
    pub sent_at: &'static str,
    pub retry_mail: &'static str,
    pub retry_queued: &'static str,
    pub retry_refused: &'static str,
    pub queued: &'static str,
    pub retrying: &'static str,
    pub sent: &'static str,
    pub failed: &'static str,
    /// The outbox's state filter: its name, "any state", waiting mail (queued or retrying),
    /// its button, and the list when no mail is in the chosen state.
    pub outbox_filter: &'static str,
    pub any_state: &'static str,
    pub pending: &'static str,
    pub show: &'static str,
    pub outbox_none_in_state: &'static str,
    /// A message's states, in `InboundMailState` order.
    pub states: [&'static str; 4],
    /// The reasons, in `MailReason` order.
    pub reasons: [&'static str; 12],
    /// The notification kinds, in `NotificationKind` order.
    pub kinds: [&'static str; 9],
}

impl MailTexts {
    /// The outbox filter's words for `state`: waiting mail is queued or retrying.
    pub fn filter_label(&self, state: MailState) -> &'static str {
        match state {
            MailState::Pending => self.pending,
            MailState::Sent => self.sent,
            MailState::Failed => self.failed,
        }
    }

    pub fn state_label(&self, state: InboundMailState) -> &'static str {
        self.states[match state {
            InboundMailState::Received => 0,
            InboundMailState::Imported => 1,
            InboundMailState::Quarantined => 2,
            InboundMailState::Ignored => 3,
        }]
    }

    pub fn reason_label(&self, reason: MailReason) -> &'static str {
        self.reasons[match reason {
            MailReason::OwnMessage => 0,
            MailReason::AutoSubmitted => 1,
            MailReason::BulkPrecedence => 2,
            MailReason::DeliveryReport => 3,
            MailReason::MalformedMime => 4,
            MailReason::MissingFrom => 5,
            MailReason::HeaderInjection => 6,
            MailReason::CharsetMismatch => 7,
            MailReason::ForbiddenCharacters => 8,
            MailReason::TooManyParts => 9,
            MailReason::RateLimited => 10,
            MailReason::Refused => 11,
        }]
    }

    pub fn kind_label(&self, kind: NotificationKind) -> &'static str {
        self.kinds[match kind {
            NotificationKind::TicketReceived => 0,
            NotificationKind::StaffReply => 1,
            NotificationKind::Resolved => 2,
            NotificationKind::SurveyReminder => 3,
            NotificationKind::Assigned => 4,
            NotificationKind::SlaWarning => 5,
            NotificationKind::SlaBreached => 6,
            NotificationKind::SlaEscalated => 7,
            NotificationKind::CertificationExpiring => 8,
        }]
    }
}

pub fn texts(lang: Lang) -> &'static MailTexts {
    match lang {
        Lang::En => &EN,
        Lang::Zh => &ZH,
    }
}

pub static EN: MailTexts = MailTexts {
    quarantine: "Mail quarantine",
    quarantine_about: "inbound messages held back, with the reason: retry them or make tickets of them",
    outbox: "Outgoing mail",
    outbox_about: "notifications queued, sent and failed, with each attempt's error",
    admin: "Administration",
    quarantine_intro: "Messages that could not be parsed or threaded, or that a rule held back. Each is stored exactly as received.",
    quarantine_empty: "No message is quarantined.",
    received: "Received",
    from: "From",
    subject: "Subject",
    reason: "Reason",
    size: "Size",
    no_subject: "(no subject)",
    no_sender: "(no sender)",
    next_page: "Next page",
    first_page: "First page",
    imported: "The message was imported.",
    ignored: "The retry ignored the message (a loop or a delivery report).",
    quarantined_again: "The retry quarantined the message again, for the reason shown.",
    message_title: "Inbound message",
    source: "Source",
    message_id: "Message-ID",
    state: "State",
    detail: "Detail",
    attempts: "Attempts",
    ticket: "Ticket",
    headers: "Headers",
    header: "Header",
    value: "Value (as received)",
    text: "Text",
    no_text: "(no text)",
    download: "Download the raw message (.eml)",
    retry_heading: "Retry",
    retry_hint: "Imports the message again under today's configuration and tickets; the sender's rate limit no longer holds it back.",
    retry: "Retry the import",
    make_ticket: "Make a ticket",
    make_ticket_hint: "Opens a ticket from the message whatever its defects. Fields left empty take the subject and the sender.",
    title: "Title",
    customer_name: "Customer name",
    customer_contact: "Customer contact",
    process: "Process",
    default_process: "the mailbox's default",
    make_ticket_button: "Make the ticket",
    not_quarantined: "This message is no longer quarantined: it is {state}.",
    refused: "The ticket was not made: see the fields below.",
    outbox_intro: "Mail Steward sends, newest first. A failed mail can be queued again.",
    outbox_empty: "No mail yet.",
    queued_at: "Queued at",
    notification: "Notification",
    to: "To",
    last_error: "Last error",
    actions: "Actions",
    next_attempt: "next attempt",
    sent_at: "sent",
    retry_mail: "Retry",
    retry_queued: "Queued again: the mail worker sends it on its next pass.",
    retry_refused: "Only a failed mail can be retried; this one is queued or sent already.",
    queued: "queued",
    retrying: "retrying",
    sent: "sent",
    failed: "failed",
    outbox_filter: "Filter the outgoing mail",
    any_state: "any state",
    pending: "waiting (queued or retrying)",
    show: "Show",
    outbox_none_in_state: "No mail in this state.",
    states: ["received, not yet imported", "imported", "quarantined", "ignored"],
    reasons: [
        "one of our own messages came back",
        "an automatic reply (Auto-Submitted)",
        "bulk or list mail (Precedence)",
        "a delivery report",
        "broken MIME structure",
        "no From address",
        "a line break in the subject (header injection)",
        "the text does not match its declared charset",
        "control characters in the text",
        "too many MIME parts",
        "the sender sent too many messages",
        "a ticket rule refused it",
    ],
    kinds: [
        "ticket received",
        "staff reply",
        "resolved, with the survey",
        "survey reminder",
        "assigned to you",
        "SLA warning",
        "SLA breached",
        "SLA escalation",
        "certification expiring",
    ],
};

pub static ZH: MailTexts = MailTexts {
    quarantine: "邮件隔离区",
    quarantine_about: "被拦下的来信及原因：可重试导入，或手动建单",
    outbox: "外发邮件",
    outbox_about: "已排队、已发送和失败的通知，以及每次尝试的错误",
    admin: "系统管理",
    quarantine_intro: "无法解析或无法归入工单、或被规则拦下的来信。每封都按收到时的原样保存。",
    quarantine_empty: "隔离区中没有邮件。",
    received: "收到时间",
    from: "发件人",
    subject: "主题",
    reason: "原因",
    size: "大小",
    no_subject: "（无主题）",
    no_sender: "（无发件人）",
    next_page: "下一页",
    first_page: "第一页",
    imported: "邮件已导入。",
    ignored: "重试后该邮件被忽略（邮件循环或投递报告）。",
    quarantined_again: "重试后该邮件再次被隔离，原因见下。",
    message_title: "来信",
    source: "来源",
    message_id: "Message-ID",
    state: "状态",
    detail: "详情",
    attempts: "尝试次数",
    ticket: "工单",
    headers: "邮件头",
    header: "字段",
    value: "值（原样）",
    text: "正文",
    no_text: "（无正文）",
    download: "下载原始邮件（.eml）",
    retry_heading: "重试",
    retry_hint: "按当前的配置和工单重新导入该邮件；发件人的频率限制不再拦截它。",
    retry: "重试导入",
    make_ticket: "手动建单",
    make_ticket_hint: "无论邮件有何缺陷，都用它新建工单。留空的字段取邮件的主题和发件人。",
    title: "标题",
    customer_name: "客户名称",
    customer_contact: "客户联系方式",
    process: "服务流程",
    default_process: "邮箱的默认流程",
    make_ticket_button: "建立工单",
    not_quarantined: "该邮件已不在隔离区：当前状态为「{state}」。",
    refused: "工单未建立：请查看下方各字段。",
    outbox_intro: "Steward 发出的邮件，最新的在前。失败的邮件可重新排队。",
    outbox_empty: "暂无邮件。",
    queued_at: "排队时间",
    notification: "通知",
    to: "收件人",
    last_error: "最近错误",
    actions: "操作",
    next_attempt: "下次尝试",
    sent_at: "发送于",
    retry_mail: "重试",
    retry_queued: "已重新排队：邮件发送程序下一轮会发送它。",
    retry_refused: "只有发送失败的邮件才能重试；这封邮件已在排队或已发送。",
    queued: "排队中",
    retrying: "重试中",
    sent: "已发送",
    failed: "失败",
    outbox_filter: "筛选外发邮件",
    any_state: "全部状态",
    pending: "待发送（排队中或重试中）",
    show: "显示",
    outbox_none_in_state: "没有处于该状态的邮件。",
    states: ["已收到，尚未导入", "已导入", "已隔离", "已忽略"],
    reasons: [
        "我们自己发出的邮件被退回",
        "自动回复（Auto-Submitted）",
        "群发或邮件列表（Precedence）",
        "投递状态报告",
        "MIME 结构损坏",
        "没有发件人地址（From）",
        "主题中含换行（邮件头注入）",
        "正文与声明的字符集不符",
        "正文含控制字符",
        "MIME 部分过多",
        "发件人发信过于频繁",
        "工单规则拒绝了它",
    ],
    kinds: ["工单已受理", "客服回复", "已解决（附满意度调查）", "调查提醒", "分派给你", "SLA 预警", "SLA 超时", "SLA 升级", "资质即将到期"],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_closed_value_has_its_words_in_both_languages() {
        for t in [&EN, &ZH] {
            for r in MailReason::ALL {
                assert!(!t.reason_label(*r).is_empty() && t.reason_label(*r) != r.as_str(), "{r:?}");
            }
            for k in NotificationKind::ALL {
                assert!(!t.kind_label(*k).is_empty() && t.kind_label(*k) != k.as_str(), "{k:?}");
            }
            for s in InboundMailState::ALL {
                assert!(!t.state_label(*s).is_empty(), "{s:?}");
            }
        }
        assert_ne!(EN.reasons, ZH.reasons);
        assert_ne!(EN.kinds, ZH.kinds);
    }
}
