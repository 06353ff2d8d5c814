"""The RAG engine: parse, chunk, embed, index, retrieve, fuse, rerank. No database inside."""
