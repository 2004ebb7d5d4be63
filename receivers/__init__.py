"""Byte-stream links to receivers: serial (pyserial), TCP client/server, NTRIP client, file replay."""
