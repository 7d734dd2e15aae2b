"""Reading results: `folders` (which kind a results folder is, reading it back), `figures` and
`report`. Nothing here trains or simulates."""
