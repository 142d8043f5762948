//! Message templates, compiled into the binary and rendered with minijinja.
//!
//! Each template has three files in `templates/`: `<name>.subject.txt`,
//! `<name>.txt` and `<name>.html`. minijinja autoescapes templates whose name
//! ends in `.html`, so names and other data are escaped in the HTML part
//! only; the text part is never interpreted and stays as written.
//!
//! Variables: `product_name` and `public_url` (from the service's settings),
//! `code` (the message's secret), and whatever the message's data holds:
//! `name` (optional) and `expires_in_minutes`. Printing a variable that is
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
    EmailChange => "email_change",
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
        let sample = serde_json::json!({ "name": "Sample", "expires_in_minutes": 15 });
        for embedded in EMBEDDED {
            templates.render(embedded.template, &sample, Some("000000"))?;
        }
        Ok(templates)
    }

    /// Renders `template` with the message's `data` (a JSON object; `null`
    /// counts as empty) and `secret` as `code`.
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

    #[test]
    fn subjects_are_one_line() {
        let t = Templates::new("Roster\nInjected: header", "http://localhost:8080").unwrap();
        let m = t.render(Template::EmailVerification, &json!({ "expires_in_minutes": 5 }), Some("1")).unwrap();
        assert_eq!(m.subject, "Your Roster Injected: header verification code");
    }
}
