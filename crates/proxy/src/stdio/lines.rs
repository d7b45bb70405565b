//! Reading a child's output one newline-delimited line at a time (MCP 2025-11-25
//! "Transports" §stdio) without letting one endless line take unbounded memory.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

/// What one read produced.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// A whole line is in the buffer (without its `\n` or `\r\n`).
    Complete,
    /// The line was longer than the limit: its first `limit` bytes are in the buffer, the
    /// rest was read and dropped.
    Truncated,
    /// End of the stream (an unterminated last line is dropped).
    End,
}

/// Reads the next line into `buf` (cleared first), keeping at most `limit` bytes of it.
///
/// Cancel safety: not cancel safe (a cancelled read loses a partial line); call it from a
/// task that owns the reader rather than as one branch of a `select!` that may win elsewhere.
pub(crate) async fn read_line<R>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<Line>
where
    R: AsyncBufRead + Unpin,
{
    buf.clear();
    let allowed = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let read = (&mut *reader).take(allowed).read_until(b'\n', buf).await?;
    if read == 0 {
        return Ok(Line::End);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        return Ok(Line::Complete);
    }
    if buf.len() <= limit {
        // The stream ended inside a line.
        return Ok(Line::End);
    }
    buf.truncate(limit);
    skip_rest_of_line(reader).await?;
    Ok(Line::Truncated)
}

/// Consumes input up to and including the next `\n`, keeping none of it.
async fn skip_rest_of_line<R>(reader: &mut R) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
{
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(());
        }
        match available.iter().position(|&b| b == b'\n') {
            Some(end) => {
                reader.consume(end + 1);
                return Ok(());
            }
            None => {
                let len = available.len();
                reader.consume(len);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn long_lines_are_cut_at_the_limit_and_the_next_line_still_reads() {
        let input: &[u8] = b"short\r\nthis line is far too long\nnext\ntail";
        let mut reader = tokio::io::BufReader::with_capacity(4, input);
        let mut buf = Vec::new();
        assert_eq!(
            read_line(&mut reader, &mut buf, 8).await.unwrap(),
            Line::Complete
        );
        assert_eq!(buf, b"short");
        assert_eq!(
            read_line(&mut reader, &mut buf, 8).await.unwrap(),
            Line::Truncated
        );
        assert_eq!(buf, b"this lin");
        assert_eq!(
            read_line(&mut reader, &mut buf, 8).await.unwrap(),
            Line::Complete
        );
        assert_eq!(buf, b"next");
        assert_eq!(
            read_line(&mut reader, &mut buf, 8).await.unwrap(),
            Line::End
        );
    }

    #[tokio::test]
    async fn a_line_of_exactly_the_limit_is_complete() {
        let input: &[u8] = b"12345678\n";
        let mut reader = tokio::io::BufReader::new(input);
        let mut buf = Vec::new();
        assert_eq!(
            read_line(&mut reader, &mut buf, 8).await.unwrap(),
            Line::Complete
        );
        assert_eq!(buf, b"12345678");
    }
}
