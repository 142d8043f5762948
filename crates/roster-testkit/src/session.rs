//! One SMTP connection: enough of RFC 5321 (with the EHLO extensions a
//! client like lettre looks for) to take mail in and record it.

use crate::{ReceivedMail, RejectMode, Shared};
use std::io;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// The longest command or data line accepted, CRLF included. RFC 5321 asks
/// for 1000 octets; more is allowed so an over-long line shows up in the test
/// that sent it rather than as a dropped connection.
const MAX_LINE: usize = 64 * 1024;
/// The largest message accepted, advertised with `SIZE`.
const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// Serves one connection until the client quits or goes away.
pub(crate) async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    // Replies are small and each waits on the client: send them at once.
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    let mut session =
        Session { reader: BufReader::new(read), writer: write, shared, mail_from: None, rcpt_to: Vec::new() };
    // An I/O error ends this connection only; the client sees it as one.
    let _ = session.run().await;
}

struct Session {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    shared: Arc<Shared>,
    mail_from: Option<String>,
    rcpt_to: Vec<String>,
}

impl Session {
    async fn run(&mut self) -> io::Result<()> {
        self.reply("220 roster-testkit ESMTP ready").await?;
        while let Some(line) = self.read_line().await? {
            let line = String::from_utf8_lossy(&line).into_owned();
            let (verb, arg) = line.split_once(' ').unwrap_or((&line, ""));
            match verb.to_ascii_uppercase().as_str() {
                "EHLO" => {
                    self.reset();
                    let extensions = ["8BITMIME", "SMTPUTF8", "PIPELINING", &format!("SIZE {MAX_MESSAGE}")];
                    let mut text = format!("250-roster-testkit greets {}", arg.trim());
                    for (i, ext) in extensions.iter().enumerate() {
                        let sep = if i + 1 == extensions.len() { ' ' } else { '-' };
                        text.push_str(&format!("\r\n250{sep}{ext}"));
                    }
                    self.reply(&text).await?;
                }
                "HELO" => {
                    self.reset();
                    self.reply(&format!("250 roster-testkit greets {}", arg.trim())).await?;
                }
                "MAIL" => self.mail(arg).await?,
                "RCPT" => self.rcpt(arg).await?,
                "DATA" => self.data().await?,
                "RSET" => {
                    self.reset();
                    self.reply("250 2.0.0 OK").await?;
                }
                "NOOP" => self.reply("250 2.0.0 OK").await?,
                "QUIT" => {
                    self.reply("221 2.0.0 Bye").await?;
                    return Ok(());
                }
                _ => self.reply("502 5.5.2 Command not recognized").await?,
            }
        }
        Ok(())
    }

    async fn mail(&mut self, arg: &str) -> io::Result<()> {
        if self.mail_from.is_some() {
            return self.reply("503 5.5.1 Sender already given").await;
        }
        match path_after(arg, "FROM:") {
            Some(from) => {
                self.mail_from = Some(from);
                self.reply("250 2.1.0 OK").await
            }
            None => self.reply("501 5.5.4 Syntax: MAIL FROM:<address>").await,
        }
    }

    async fn rcpt(&mut self, arg: &str) -> io::Result<()> {
        if self.mail_from.is_none() {
            return self.reply("503 5.5.1 Need MAIL before RCPT").await;
        }
        let Some(to) = path_after(arg, "TO:").filter(|to| !to.is_empty()) else {
            return self.reply("501 5.5.4 Syntax: RCPT TO:<address>").await;
        };
        if self.shared.reject() == Some(RejectMode::Permanent) {
            return self.reply("550 5.1.1 Mailbox unavailable").await;
        }
        self.rcpt_to.push(to);
        self.reply("250 2.1.5 OK").await
    }

    async fn data(&mut self) -> io::Result<()> {
        if self.rcpt_to.is_empty() {
            return self.reply("503 5.5.1 Need RCPT before DATA").await;
        }
        if self.shared.reject() == Some(RejectMode::Transient) {
            self.reset();
            return self.reply("451 4.3.0 Temporarily unable to accept mail, try again later").await;
        }
        self.reply("354 End data with <CR><LF>.<CR><LF>").await?;
        let mut raw = Vec::new();
        let mut too_big = false;
        loop {
            let Some(line) = self.read_line().await? else {
                // The client went away mid-message: nothing was delivered.
                return Ok(());
            };
            if line == b"." {
                break;
            }
            // Dot-unstuffing (RFC 5321 4.5.2): the client doubled every leading dot.
            let line = line.strip_prefix(b".").unwrap_or(&line);
            // Past the limit the rest is read and dropped, so the session stays in step.
            too_big |= raw.len() + line.len() + 2 > MAX_MESSAGE;
            if !too_big {
                raw.extend_from_slice(line);
                raw.extend_from_slice(b"\r\n");
            }
        }
        let from = self.mail_from.take().unwrap_or_default();
        let to = std::mem::take(&mut self.rcpt_to);
        if too_big {
            return self.reply("552 5.3.4 Message too big").await;
        }
        self.shared.deliver(ReceivedMail::parse(from, to, &raw));
        self.reply("250 2.0.0 OK: queued").await
    }

    fn reset(&mut self) {
        self.mail_from = None;
        self.rcpt_to.clear();
    }

    async fn reply(&mut self, text: &str) -> io::Result<()> {
        // One write per reply: split writes meet Nagle and delayed ACKs, 40 ms a reply.
        self.writer.write_all(format!("{text}\r\n").as_bytes()).await
    }

    /// The next line without its line ending; `None` once the client has closed.
    async fn read_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut line = Vec::new();
        (&mut self.reader).take(MAX_LINE as u64).read_until(b'\n', &mut line).await?;
        if !line.ends_with(b"\n") {
            if line.len() >= MAX_LINE {
                self.reply("500 5.5.6 Line too long").await?;
                return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
            }
            // End of stream, possibly after a partial line that can never complete.
            return Ok(None);
        }
        line.pop();
        if line.ends_with(b"\r") {
            line.pop();
        }
        Ok(Some(line))
    }
}

/// The address in `FROM:<a@b> PARAMS` (after `keyword`, any case); `<>` gives "".
fn path_after(arg: &str, keyword: &str) -> Option<String> {
    let rest = arg.get(..keyword.len()).filter(|k| k.eq_ignore_ascii_case(keyword)).map(|_| &arg[keyword.len()..])?;
    let rest = rest.trim_start();
    let inner = rest.strip_prefix('<')?;
    let end = inner.find('>')?;
    Some(inner[..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::path_after;

    #[test]
    fn parses_paths_with_parameters() {
        assert_eq!(path_after("FROM:<a@b.io> BODY=8BITMIME", "FROM:").as_deref(), Some("a@b.io"));
        assert_eq!(path_after("from: <a@b.io>", "FROM:").as_deref(), Some("a@b.io"));
        assert_eq!(path_after("FROM:<>", "FROM:").as_deref(), Some(""));
        assert_eq!(path_after("TO:a@b.io", "TO:"), None);
        assert_eq!(path_after("FROM:<a@b.io>", "TO:"), None);
    }
}
