// Package deps pins modules during bootstrap; removed once real imports exist.
package deps

import (
	_ "github.com/Azure/azure-sdk-for-go/sdk/azcore"
	_ "github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	_ "gopkg.in/yaml.v3"
	_ "modernc.org/sqlite"
	_ "golang.org/x/time/rate"
)
