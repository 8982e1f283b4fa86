"""Wire formats of the provider wallet dialects, one module per dialect: Structs, signing, codes."""
