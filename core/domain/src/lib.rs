//! The domain: plain Rust types and rules of the service system.
//!
//! Architecture invariant: nothing here knows HTTP, SQL or any plugin runtime, and nothing
//! reads files or clocks inside a rule: this crate's manifest lists no such dependency. Every
//! rule is a pure function of its inputs (the current time included), unit-tested without I/O.

pub mod attachment;
pub mod auth;
pub mod calendar;
pub mod clock;
pub mod destination;
pub mod duration;
pub mod error;
pub mod event;
pub mod feedback;
pub mod history;
pub mod idempotency;
pub mod ids;
pub mod improvement;
pub mod kpi;
pub mod login;
pub mod mail;
pub mod mail_inbound;
pub mod partner;
pub mod process;
pub mod queue;
pub mod review;
pub mod scorecard;
pub mod sla;
pub mod sla_engine;
pub mod staff;
pub mod text;
pub mod ticket;
pub mod time;
pub mod training;
pub mod webhook;

pub use error::{FieldError, ValidationError};

/// OpenAPI schemas of the closed string sets, for the server's generated document: the
/// spelling is defined once, by [`string_enum!`], and the schema lists exactly its values.
#[cfg(feature = "openapi")]
mod openapi {
    use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
    use utoipa::openapi::RefOr;

    macro_rules! string_enum_schema {
        ($($t:ty),+ $(,)?) => {$(
            impl utoipa::PartialSchema for $t {
                fn schema() -> RefOr<Schema> {
                    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(<$t>::values().iter().copied())).into()
                }
            }
            impl utoipa::ToSchema for $t {}
        )+};
    }

    string_enum_schema!(
        crate::ticket::Kind,
        crate::ticket::Channel,
        crate::ticket::Priority,
        crate::ticket::Status,
        crate::ticket::Visibility,
        crate::auth::Role,
        crate::login::AuditKind,
        crate::process::Office,
        crate::sla::CalendarSource,
        crate::webhook::DeliveryState,
        crate::mail::MailState,
        crate::mail::NotificationKind,
        crate::partner::PartnerKind,
        crate::partner::PartnerStatus,
        crate::training::AssessmentMethod,
        crate::training::CertificationState,
        crate::mail_inbound::InboundMailState,
        crate::mail_inbound::MailReason,
        crate::mail_inbound::MailAttachments,
        crate::improvement::ImprovementStatus,
        crate::improvement::Movement,
    );
}

/// Declares a closed set of string values (`"urgent"`, `"high"` …) with `parse`, `as_str`,
/// `ALL`, serde in the same snake_case spelling, and an error that names the field.
#[macro_export]
macro_rules! string_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the wire spelling; the error names `field` and lists the accepted values.
            pub fn parse(field: &str, text: &str) -> Result<Self, $crate::FieldError> {
                match text {
                    $($text => Ok($name::$variant),)+
                    other => Err($crate::FieldError::new(
                        field,
                        format!(
                            "`{other}` is not one of: {}",
                            [$($text),+].join(", ")
                        ),
                    )),
                }
            }

            pub fn values() -> &'static [&'static str] {
                &[$($text),+]
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                match text.as_ref() {
                    $($text => Ok($name::$variant),)+
                    other => Err(serde::de::Error::unknown_variant(other, &[$($text),+])),
                }
            }
        }
    };
}
