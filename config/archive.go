package config

import (
	"fmt"
	"net/url"
	"strings"

	"go.yaml.in/yaml/v3"
)

// archiveKeys are the keys of the archive: block.
var archiveKeys = []string{"folder", "container", "account_url", "connection_string_env", "account_key_env", "managed_identity", "client_id"}

// Archive is the optional raw-snapshot archive: each tenant's raw Graph JSON
// of each day, to a local folder or an Azure Blob container, as the old
// runbooks kept it. Secrets are named, never held: the archive reads
// ConnectionStringEnv or AccountKeyEnv from the environment itself.
type Archive struct {
	Folder              string // absolute; a local folder archive
	Container           string // an Azure Blob container
	AccountURL          string // https://ACCOUNT.blob.core.windows.net, with account_key_env or managed_identity
	ConnectionStringEnv string
	AccountKeyEnv       string
	ManagedIdentity     bool
	ClientID            string // a user-assigned managed identity
	Line                int
}

// Kind is "folder" or "azblob".
func (a *Archive) Kind() string {
	if a.Folder != "" {
		return "folder"
	}
	return "azblob"
}

func (p *parser) archive(e entry) *Archive {
	if e.missing() {
		return nil
	}
	if e.val.Kind != yaml.MappingNode {
		p.fail(e.key.Line, "archive must be a block of keys", "write archive: with folder: data/archive, or container: and its credentials, indented below it")
		return nil
	}
	m := p.mapping(e.val, "archive", archiveKeys)
	a := &Archive{Line: e.key.Line}
	str := func(k, example string) string {
		v, _ := p.scalar(m[k], "a value", example)
		return v
	}
	if f := str("folder", "folder: data/archive"); f != "" {
		a.Folder = p.abs(f)
	}
	a.Container = str("container", "container: securescore")
	a.AccountURL = str("account_url", "account_url: https://myaccount.blob.core.windows.net")
	a.ClientID = str("client_id", "client_id: 00000000-0000-0000-0000-000000000000")
	if !m["managed_identity"].missing() {
		switch v := strings.ToLower(str("managed_identity", "managed_identity: true")); v {
		case "true", "yes":
			a.ManagedIdentity = true
		case "false", "no", "":
		default:
			p.fail(m["managed_identity"].key.Line, fmt.Sprintf("managed_identity %q is not true or false", v), "write managed_identity: true")
		}
	}
	p.secrets(UseArchive, func() {
		if !m["connection_string_env"].missing() {
			a.ConnectionStringEnv, _, _ = p.env(m["connection_string_env"], "the storage account's connection string")
		}
		if !m["account_key_env"].missing() {
			a.AccountKeyEnv, _, _ = p.env(m["account_key_env"], "the storage account's key")
		}
	})
	switch {
	case a.Folder != "" && a.Container != "":
		p.fail(e.key.Line, "archive has both folder and container", "keep folder: for a local archive, or container: for Azure Blob Storage")
	case a.Folder == "" && a.Container == "":
		p.fail(e.key.Line, "archive has neither folder nor container", "add folder: data/archive, or container: with connection_string_env, account_url + account_key_env, or account_url + managed_identity: true")
	case a.Container != "":
		ways := 0
		for _, set := range []bool{!m["connection_string_env"].missing(), !m["account_key_env"].missing(), a.ManagedIdentity} {
			if set {
				ways++
			}
		}
		if ways != 1 {
			p.fail(e.key.Line, "the Azure Blob archive needs exactly one way in",
				"give connection_string_env, or account_url with account_key_env, or account_url with managed_identity: true")
		}
		if (!m["account_key_env"].missing() || a.ManagedIdentity) && a.AccountURL == "" {
			p.fail(e.key.Line, "account_url is missing", "write account_url: https://ACCOUNT.blob.core.windows.net")
		}
		if a.AccountURL != "" {
			if u, err := url.Parse(a.AccountURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
				p.fail(m["account_url"].key.Line, fmt.Sprintf("account_url %q is not a URL", a.AccountURL), "write account_url: https://ACCOUNT.blob.core.windows.net")
			}
		}
	}
	return a
}
