"""Pure cryptography library: envelope encryption, keys and rotation, streaming blobs, blind indexes, signatures."""
