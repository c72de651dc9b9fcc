package chserver

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"text/template"
)

// File names inside Options.Dir. The logs are read back by Start when the
// server dies during start-up, so they live at fixed, known paths.
const (
	configFile   = "config.xml"
	usersFile    = "users.xml"
	logFile      = "clickhouse-server.log"
	errorLogFile = "clickhouse-server.err.log"
)

// configTemplate is the smallest server config that both 18.16 and current
// releases accept (see CLICKHOUSE-18.md, "Starting a private server"). The
// root stays <yandex> because 18.16 knows no other; current releases still
// accept it. Everything the server writes stays inside Dir, and it listens
// on loopback only, so a private server never touches the system install or
// the network.
//
// The caches are far below the server defaults (5 GiB of marks, 8 GiB of
// uncompressed blocks) because test binaries and dev mode each run their own
// server beside everything else on a small machine.
var configTemplate = template.Must(template.New("config").Funcs(template.FuncMap{"x": xmlEscape}).Parse(`<?xml version="1.0"?>
<yandex>
    <logger>
        <level>{{x .LogLevel}}</level>
        <log>{{x .Dir}}/` + logFile + `</log>
        <errorlog>{{x .Dir}}/` + errorLogFile + `</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>{{.TCPPort}}</tcp_port>
    <http_port>{{.HTTPPort}}</http_port>
    <max_connections>1024</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <path>{{x .Dir}}/data/</path>
    <tmp_path>{{x .Dir}}/tmp/</tmp_path>
    <user_files_path>{{x .Dir}}/user_files/</user_files_path>
    <format_schema_path>{{x .Dir}}/format_schemas/</format_schema_path>
    <users_config>` + usersFile + `</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
</yandex>
`))

// usersXML allows the password-less default user from loopback only:
// the server is private to this machine's tests or dev mode.
const usersXML = `<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>::1</ip>
                <ip>127.0.0.1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
`

type configValues struct {
	Dir               string
	TCPPort, HTTPPort int
	LogLevel          string
}

// writeConfig writes config.xml and users.xml into dir and creates the
// directories the config names, and returns the path of config.xml.
func writeConfig(v configValues) (string, error) {
	for _, sub := range []string{"data", "tmp", "user_files", "format_schemas"} {
		if err := os.MkdirAll(filepath.Join(v.Dir, sub), 0o755); err != nil {
			return "", err
		}
	}
	var buf bytes.Buffer
	if err := configTemplate.Execute(&buf, v); err != nil {
		return "", fmt.Errorf("render config.xml: %w", err)
	}
	configPath := filepath.Join(v.Dir, configFile)
	if err := os.WriteFile(configPath, buf.Bytes(), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(v.Dir, usersFile), []byte(usersXML), 0o644); err != nil {
		return "", err
	}
	return configPath, nil
}

func xmlEscape(s string) (string, error) {
	var buf bytes.Buffer
	if err := xml.EscapeText(&buf, []byte(s)); err != nil {
		return "", err
	}
	return buf.String(), nil
}
