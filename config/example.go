package config

import (
	"bytes"
	_ "embed"
)

//go:embed example.yaml
var example []byte

// Example returns a commented config file showing every key with its
// default. Its client_id and tenant IDs are placeholders that Load rejects until replaced.
func Example() []byte { return bytes.Clone(example) }
