//! The stdio upstream (see StdioUpstream).
