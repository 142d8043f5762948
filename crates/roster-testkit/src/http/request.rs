//! A request as the receiver took it in.

/// One HTTP request, recorded before the receiver answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, ….
    pub method: String,
    /// The path, percent-encoded as sent, without the query.
    pub path: String,
    /// The query string as sent, without the `?`; `None` when there was none.
    pub query: Option<String>,
    /// Every header in the order sent, names in lowercase; a value that is
    /// not UTF-8 is decoded lossily.
    pub headers: Vec<(String, String)>,
    /// The body, decoded lossily as UTF-8.
    pub body: String,
}

impl RecordedRequest {
    /// The first value of header `name` (compared without case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (compared without case), in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }

    /// The query string decoded into pairs, in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        decode_pairs(self.query.as_deref().unwrap_or_default())
    }

    /// The body decoded as `application/x-www-form-urlencoded`, in order.
    pub fn form(&self) -> Vec<(String, String)> {
        decode_pairs(&self.body)
    }

    /// The value of form field `name` in the body, when present.
    pub fn form_value(&self, name: &str) -> Option<String> {
        self.form().into_iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> serde_json::Result<serde_json::Value> {
        serde_json::from_str(&self.body)
    }
}

fn decode_pairs(encoded: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(encoded.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

#[cfg(test)]
mod tests {
    use super::RecordedRequest;

    #[test]
    fn helpers_decode_headers_query_form_and_json() {
        let req = RecordedRequest {
            method: "POST".into(),
            path: "/hook".into(),
            query: Some("a=1&b=x%20y&a=2".into()),
            headers: vec![
                ("content-type".into(), "text/plain".into()),
                ("x-many".into(), "1".into()),
                ("x-many".into(), "2".into()),
            ],
            body: "To=%2B15551234567&Body=hi+there".into(),
        };
        assert_eq!(req.header("Content-Type"), Some("text/plain"));
        assert_eq!(req.header_all("X-MANY"), ["1", "2"]);
        assert_eq!(req.header("missing"), None);
        let pairs = req.query_pairs();
        assert_eq!(pairs, [("a".into(), "1".into()), ("b".into(), "x y".into()), ("a".into(), "2".into())]);
        assert_eq!(req.form_value("To").as_deref(), Some("+15551234567"));
        assert_eq!(req.form_value("Body").as_deref(), Some("hi there"));
        assert!(req.json().is_err());
        let json = RecordedRequest { body: r#"{"text":"hi"}"#.into(), ..req };
        assert_eq!(json.json().unwrap()["text"], "hi");
    }
}
