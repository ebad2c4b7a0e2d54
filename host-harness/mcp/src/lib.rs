//! The Model Context Protocol face of an ATOM integration: every operation as
//! one typed, annotated MCP tool, over stdio and Streamable HTTP (rmcp).
