//! Message templates, compiled into the binary and rendered with minijinja.
//!
//! Each template has three files in `templates/`: `<name>.subject.txt`,
//! `<name>.txt` and `<name>.html`. minijinja autoescapes templates whose name
//! ends in `.html`, so names and other data are escaped in the HTML part
//! only; the text part is never interpreted and stays as written.
//!
//! Variables: `product_name` and `public_url` (from the service's settings),
//! the message's secret as `code` (a verification code) and as `token` (an
//! invitation link's token), and whatever the message's data holds (see
//! [`sample`] for what each template reads). Printing a variable that is
//! missing is an error, so a message with incomplete data fails instead of
//! going out with a blank where the expiry should be.

use minijinja::{Environment, UndefinedBehavior, Value};
use roster_core::message::Template;

/// An email ready for a transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("template data must be a JSON object")]
    Data,
    #[error("template error: {0:#}")]
    Template(#[from] minijinja::Error),
}

/// One template's files: (registered name, source) for subject, text and HTML.
struct Embedded {
    template: Template,
    files: [(&'static str, &'static str); 3],
}

/// Lists every template with its embedded files. A `Template` variant missing
/// from the list is a compile error, so adding one means: add the variant in
/// roster-core, add its three files, add one line here.
macro_rules! embedded {
    ($($variant:ident => $name:literal),+ $(,)?) => {
        const EMBEDDED: &[Embedded] = &[$(Embedded {
            template: Template::$variant,
            files: [
                (concat!($name, ".subject.txt"), include_str!(concat!("../templates/", $name, ".subject.txt"))),
                (concat!($name, ".txt"), include_str!(concat!("../templates/", $name, ".txt"))),
                (concat!($name, ".html"), include_str!(concat!("../templates/", $name, ".html"))),
            ],
        }),+];

        const _EVERY_TEMPLATE_IS_EMBEDDED: fn(Template) = |t| match t {
            $(Template::$variant)|+ => {}
        };
    };
}

embedded! {
    EmailVerification => "email_verification",
    SignupCode => "signup_code",
    SignupExisting => "signup_existing",
    EmailChange => "email_change",
    EmailChangeExisting => "email_change_existing",
    PasswordReset => "password_reset",
    Invitation => "invitation",
    InvitationReminder => "invitation_reminder",
    InvitationAccepted => "invitation_accepted",
    OwnershipOffered => "ownership_offered",
    ChannelVerification => "channel_verification",
    ChannelTest => "channel_test",
    Alert => "alert",
    ChannelDisabled => "channel_disabled",
}

/// Data and secret a template is rendered with at start-up: every variable it reads.
fn sample(template: Template) -> (serde_json::Value, Option<&'static str>) {
    use serde_json::json;
    const TOKEN: &str = "rsi_000000000000000000000000000000000000";
    match template {
        Template::EmailVerification | Template::SignupCode | Template::EmailChange | Template::PasswordReset => {
            (json!({ "name": "Sample", "expires_in_minutes": 15 }), Some("000000"))
        }
        Template::Invitation | Template::InvitationReminder => (
            json!({
                "inviter_name": "Sample Inviter",
                "organization_name": "Sample Inc",
                "team_name": "Sample team",
                "expires_in_days": 7,
            }),
            Some(TOKEN),
        ),
        Template::SignupExisting => (json!({ "name": "Sample" }), None),
        Template::EmailChangeExisting => (json!({}), None),
        Template::InvitationAccepted => (
            json!({
                "name": "Sample",
                "invitee_name": "Sample Invitee",
                "team_name": "Sample team",
                "organization_name": "Sample Inc",
            }),
            None,
        ),
        Template::OwnershipOffered => (
            json!({ "name": "Sample", "from_name": "Sample Owner", "organization_name": "Sample Inc", "expires_in_days": 7 }),
            None,
        ),
        Template::ChannelVerification => (
            json!({ "channel_label": "the sms channel +14155550100", "owner_name": "Sample", "expires_in_minutes": 15 }),
            Some("000000"),
        ),
        Template::ChannelTest => (
            json!({
                "channel_label": "the sms channel +14155550100",
                "owner_name": "Sample",
                "sent_at": "2026-01-01T00:00:00Z",
                "requested_by": "Sample Requester",
            }),
            None,
        ),
        Template::Alert => (
            json!({
                "event": "down",
                "event_label": "DOWN",
                "title": "Sample check is down",
                "message": "Connection refused",
                "service_name": "Sample service",
                "team_name": "Sample team",
                "raised_at": "2026-01-01T00:00:00Z",
                "alert_id": "00000000-0000-0000-0000-000000000000",
            }),
            None,
        ),
        Template::ChannelDisabled => (
            json!({
                "channel_label": "the webhook channel https://example.com/hook",
                "owner_name": "Sample",
                "reason": "the receiver answered 410 Gone",
            }),
            None,
        ),
    }
}

/// The compiled templates, shared by every delivery.
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// Compiles every template and renders each once with sample data, so a
    /// broken template stops the service at start-up rather than in the outbox.
    pub fn new(product_name: &str, public_url: &str) -> Result<Self, RenderError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        // Text bodies end with a newline, as text files and mail do.
        env.set_keep_trailing_newline(true);
        env.add_global("product_name", product_name.to_owned());
        env.add_global("public_url", public_url.trim_end_matches('/').to_owned());
        for embedded in EMBEDDED {
            for (name, source) in embedded.files {
                env.add_template(name, source)?;
            }
        }
        let templates = Self { env };
        for embedded in EMBEDDED {
            let (data, secret) = sample(embedded.template);
            templates.render(embedded.template, &data, secret)?;
        }
        Ok(templates)
    }

    /// Renders `template` with the message's `data` (a JSON object; `null`
    /// counts as empty) and `secret` as `code` and `token`.
    pub fn render(
        &self,
        template: Template,
        data: &serde_json::Value,
        secret: Option<&str>,
    ) -> Result<RenderedEmail, RenderError> {
        let mut vars = match data {
            serde_json::Value::Object(map) => map.clone(),
            serde_json::Value::Null => serde_json::Map::new(),
            _ => return Err(RenderError::Data),
        };
        if let Some(secret) = secret {
            vars.insert("code".into(), secret.into());
            vars.insert("token".into(), secret.into());
        }
        let ctx = Value::from_serialize(&vars);
        let name = template.as_str();
        let render = |suffix: &str| self.env.get_template(&format!("{name}{suffix}"))?.render(&ctx);
        let subject = render(".subject.txt")?;
        Ok(RenderedEmail {
            // A header is one line: newlines from the file or the data are folded away.
            subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
            text: render(".txt")?,
            html: render(".html")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn templates() -> Templates {
        Templates::new("Roster", "https://roster.example.com/").expect("templates compile")
    }

    #[test]
    fn every_embedded_template_is_named_after_its_variant() {
        for e in EMBEDDED {
            assert_eq!(Template::parse(e.template.as_str()), Some(e.template));
            assert!(e.files[0].0.starts_with(e.template.as_str()));
        }
    }

    #[test]
    fn verification_email_explains_the_code() {
        let data = json!({ "name": "Ada", "expires_in_minutes": 15 });
        let m = templates().render(Template::EmailVerification, &data, Some("042917")).unwrap();
        assert_eq!(m.subject, "Your Roster verification code");
        for part in [&m.text, &m.html] {
            assert!(part.contains("Hi Ada,"));
            assert!(part.contains("042917"));
            assert!(part.contains("expires in 15 minutes"));
            assert!(part.contains("If you did not sign up for Roster, ignore this email"));
        }
        // HTML escapes the slashes too (`&#x2f;`); either way the trailing one is gone.
        assert!(m.text.ends_with("\nhttps://roster.example.com\n"), "{:?}", m.text);
        assert!(m.html.contains("href=\"https:&#x2f;&#x2f;roster.example.com\""), "{}", m.html);
    }

    #[test]
    fn email_change_asks_to_confirm_the_new_address() {
        let m =
            templates().render(Template::EmailChange, &json!({ "expires_in_minutes": 10 }), Some("123456")).unwrap();
        assert!(m.subject.contains("confirm your new email"), "{}", m.subject);
        assert!(m.text.starts_with("Hi,\n"));
        assert!(m.text.contains("123456") && m.html.contains("123456"));
        assert!(m.text.contains("expires in 10 minutes"));
        assert!(m.text.contains("If you did not ask for this change, ignore this email"));
    }

    #[test]
    fn names_are_escaped_in_html_only() {
        let name = "<script>alert('x')</script> & Co";
        let data = json!({ "name": name, "expires_in_minutes": 15 });
        let t = templates();
        for template in [Template::EmailVerification, Template::EmailChange] {
            let m = t.render(template, &data, Some("111111")).unwrap();
            assert!(!m.html.contains("<script>"), "{}", m.html);
            assert!(m.html.contains("&lt;script&gt;"));
            assert!(m.html.contains("&amp; Co"));
            assert!(m.text.contains(name));
        }
    }

    #[test]
    fn incomplete_or_malformed_data_is_an_error() {
        let t = templates();
        let no_expiry = t.render(Template::EmailVerification, &json!({ "name": "Ada" }), Some("1"));
        assert!(matches!(no_expiry, Err(RenderError::Template(_))));
        let no_code = t.render(Template::EmailVerification, &json!({ "expires_in_minutes": 5 }), None);
        assert!(matches!(no_code, Err(RenderError::Template(_))));
        let not_object = t.render(Template::EmailChange, &json!([1, 2]), Some("1"));
        assert!(matches!(not_object, Err(RenderError::Data)));
    }

    fn invitation_data() -> serde_json::Value {
        json!({ "inviter_name": "Ann Lee", "organization_name": "Acme Inc", "team_name": "Ops", "expires_in_days": 7 })
    }

    const TOKEN: &str = "rsi_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";

    #[test]
    fn invitation_names_who_invited_to_what_and_carries_the_link() {
        let m = templates().render(Template::Invitation, &invitation_data(), Some(TOKEN)).unwrap();
        assert_eq!(m.subject, "Ann Lee invited you to Ops at Acme Inc on Roster");
        assert!(m.text.contains("Ann Lee invited you to join the team Ops of the organization Acme Inc on Roster."));
        assert!(m.text.contains(&format!("https://roster.example.com/v1/invitations/{TOKEN}\n")), "{}", m.text);
        assert!(m.text.contains(&format!("token, should the link not open: {TOKEN}\n")));
        assert!(m.text.contains("The link expires in 7 days"));
        assert!(!m.text.to_lowercase().contains("reminder"));
        assert!(
            m.html.contains(&format!("href=\"https:&#x2f;&#x2f;roster.example.com/v1/invitations/{TOKEN}\"")),
            "{}",
            m.html
        );
        assert!(m.html.contains("The link expires in 7 days"));
        let one_day = json!({ "inviter_name": "A", "organization_name": "B", "team_name": "C", "expires_in_days": 1 });
        let m = templates().render(Template::Invitation, &one_day, Some(TOKEN)).unwrap();
        assert!(m.text.contains("expires in 1 day and"), "{}", m.text);
    }

    #[test]
    fn reminder_says_it_is_one_and_carries_the_new_link() {
        let m = templates().render(Template::InvitationReminder, &invitation_data(), Some(TOKEN)).unwrap();
        assert!(m.subject.starts_with("Reminder: Ann Lee invited you to Ops"), "{}", m.subject);
        assert!(m
            .text
            .contains("This is a reminder: Ann Lee invited you to join the team Ops of the organization Acme Inc"));
        assert!(m.text.contains(&format!("/v1/invitations/{TOKEN}")) && m.html.contains(TOKEN));
        assert!(m.text.contains("the one sent before no longer works"));
        assert!(m.text.contains("expires in 7 days"));
    }

    #[test]
    fn invitations_need_their_token() {
        let missing = templates().render(Template::Invitation, &invitation_data(), None);
        assert!(matches!(missing, Err(RenderError::Template(_))));
    }

    #[test]
    fn acceptance_tells_the_inviter_who_joined() {
        let data =
            json!({ "name": "Ann", "invitee_name": "Bo Berg", "team_name": "Ops", "organization_name": "Acme Inc" });
        let m = templates().render(Template::InvitationAccepted, &data, None).unwrap();
        assert_eq!(m.subject, "Bo Berg joined Ops on Roster");
        for part in [&m.text, &m.html] {
            assert!(part.contains("Hi Ann,"));
            assert!(part.contains("Bo Berg accepted your invitation and joined the team"));
            assert!(part.contains("Acme Inc"));
        }
    }

    #[test]
    fn ownership_offer_says_how_to_accept() {
        let data =
            json!({ "name": "Bo", "from_name": "Ann Lee", "organization_name": "Acme Inc", "expires_in_days": 7 });
        let m = templates().render(Template::OwnershipOffered, &data, None).unwrap();
        assert_eq!(m.subject, "Ann Lee offered you ownership of Acme Inc on Roster");
        for part in [&m.text, &m.html] {
            assert!(part.contains("Hi Bo,"));
            assert!(part.contains("Ann Lee offered you ownership of the organization"));
            assert!(part.contains("POST /v1/organization/ownership-transfer/accept"));
            assert!(part.contains("expires in 7 days"));
        }
    }

    #[test]
    fn every_template_renders_its_sample() {
        let t = templates();
        for e in EMBEDDED {
            let (data, secret) = sample(e.template);
            let m = t.render(e.template, &data, secret).unwrap();
            assert!(!m.subject.is_empty() && m.text.ends_with('\n') && m.html.contains("</html>"));
        }
    }

    #[test]
    fn inviter_names_are_escaped_in_html_only() {
        let evil = "<b>Eve</b> & Co";
        let data = json!({ "inviter_name": evil, "organization_name": evil, "team_name": evil, "expires_in_days": 7 });
        let m = templates().render(Template::Invitation, &data, Some(TOKEN)).unwrap();
        assert!(!m.html.contains("<b>Eve") && m.html.contains("&lt;b&gt;Eve&lt;&#x2f;b&gt; &amp; Co"), "{}", m.html);
        assert!(m.text.contains(evil));
    }

    #[test]
    fn subjects_are_one_line() {
        let t = Templates::new("Roster\nInjected: header", "http://localhost:8080").unwrap();
        let m = t.render(Template::EmailVerification, &json!({ "expires_in_minutes": 5 }), Some("1")).unwrap();
        assert_eq!(m.subject, "Your Roster Injected: header verification code");
    }
}
