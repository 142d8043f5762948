//! How the receiver answers: fixed statuses, sequences, rate limits,
//! redirects, bodies of any size, or no answer at all.

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame};
use hyper::Response;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

/// What the receiver answers to each request from now on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behavior {
    /// This status, an empty body.
    Status(u16),
    /// These statuses in turn, one per request, then the last one again and again.
    Sequence(Vec<u16>),
    /// `429 Too Many Requests` with `Retry-After: {retry_after_secs}`.
    TooManyRequests { retry_after_secs: u64 },
    /// Reads the request, records it, and never answers until the receiver is dropped.
    Hang,
    /// `302 Found` with this `Location`.
    Redirect(String),
    /// This status with this body (`text/plain`), e.g. a huge one.
    Body { status: u16, body: String },
    /// This status, then a body that never ends: a client that reads it
    /// all never finishes.
    Endless { status: u16 },
    /// Full control: status, headers (e.g. a `Retry-After` HTTP-date, a
    /// `301` with a `Location`) and body.
    Reply(Reply),
}

impl Default for Behavior {
    fn default() -> Self {
        Behavior::Status(200)
    }
}

/// A complete answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Reply { status, headers: Vec::new(), body: String::new() }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = body.into();
        self
    }
}

pub(crate) type ResponseBody = BoxBody<Bytes, Infallible>;

/// What to do with one request.
pub(crate) enum Plan {
    Answer(Response<ResponseBody>),
    Hang,
}

impl Behavior {
    /// The plan for the `n`th request (from 0) since this behavior was set.
    pub(crate) fn plan(&self, n: usize) -> Plan {
        let reply = match self {
            Behavior::Status(status) => Reply::status(*status),
            Behavior::Sequence(statuses) => {
                let status = statuses.get(n).or(statuses.last()).copied().unwrap_or(200);
                Reply::status(status)
            }
            Behavior::TooManyRequests { retry_after_secs } => {
                Reply::status(429).header("retry-after", &retry_after_secs.to_string())
            }
            Behavior::Hang => return Plan::Hang,
            Behavior::Redirect(location) => Reply::status(302).header("location", location),
            Behavior::Body { status, body } => {
                Reply::status(*status).header("content-type", "text/plain; charset=utf-8").body(body.clone())
            }
            Behavior::Endless { status } => {
                return Plan::Answer(response(*status, &[("content-type", "text/plain")], Endless.boxed()))
            }
            Behavior::Reply(reply) => reply.clone(),
        };
        let headers: Vec<(&str, &str)> = reply.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        Plan::Answer(response(reply.status, &headers, Full::new(Bytes::from(reply.body)).boxed()))
    }
}

/// # Panics
/// On a status or header a response cannot carry: a mistake in the test.
fn response(status: u16, headers: &[(&str, &str)], body: ResponseBody) -> Response<ResponseBody> {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body).unwrap_or_else(|e| panic!("an invalid test reply (status {status}, headers {headers:?}): {e}"))
}

/// A body of `x`s that never ends.
struct Endless;

static CHUNK: [u8; 16 * 1024] = [b'x'; 16 * 1024];

impl Body for Endless {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&CHUNK)))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_of(plan: Plan) -> u16 {
        match plan {
            Plan::Answer(r) => r.status().as_u16(),
            Plan::Hang => 0,
        }
    }

    #[test]
    fn sequences_repeat_their_last_status() {
        let b = Behavior::Sequence(vec![503, 500, 200]);
        let statuses: Vec<u16> = (0..5).map(|n| status_of(b.plan(n))).collect();
        assert_eq!(statuses, [503, 500, 200, 200, 200]);
        assert_eq!(status_of(Behavior::Sequence(vec![]).plan(0)), 200);
        assert_eq!(status_of(Behavior::Hang.plan(0)), 0);
    }

    #[test]
    fn replies_carry_their_headers() {
        let Plan::Answer(r) = Behavior::TooManyRequests { retry_after_secs: 7 }.plan(0) else { panic!("hang") };
        assert_eq!((r.status().as_u16(), r.headers()["retry-after"].to_str().unwrap()), (429, "7"));
        let Plan::Answer(r) = Behavior::Redirect("http://elsewhere/".into()).plan(0) else { panic!("hang") };
        assert_eq!((r.status().as_u16(), r.headers()["location"].to_str().unwrap()), (302, "http://elsewhere/"));
    }
}
