package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoadIntakeSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		vars map[string]string
		got  func(Config) any
		want any
	}{
		{"enabled", map[string]string{"INTAKE_ENABLED": "true"}, func(c Config) any { return c.IntakeEnabled }, true},
		{"enabled 1", map[string]string{"INTAKE_ENABLED": "1"}, func(c Config) any { return c.IntakeEnabled }, true},
		{"disabled OFF", map[string]string{"INTAKE_ENABLED": "OFF"}, func(c Config) any { return c.IntakeEnabled }, false},
		{"origins", map[string]string{"INTAKE_CORS_ORIGINS": " https://app.example.com, http://localhost:3000/ ,"},
			func(c Config) any { return c.IntakeCORSOrigins }, []string{"https://app.example.com", "http://localhost:3000"}},
		{"no origins", map[string]string{}, func(c Config) any { return c.IntakeCORSOrigins }, []string(nil)},
		{"proxies", map[string]string{"INTAKE_TRUSTED_PROXIES": "172.17.0.0/16, 10.1.2.3, ::1"},
			func(c Config) any { return c.IntakeTrustedProxies }, []string{"172.17.0.0/16", "10.1.2.3/32", "::1/128"}},
		{"proxy prefix masked", map[string]string{"INTAKE_TRUSTED_PROXIES": "172.17.0.1/16"},
			func(c Config) any { return c.IntakeTrustedProxies }, []string{"172.17.0.0/16"}},
		{"body limit", map[string]string{"INTAKE_MAX_BODY_BYTES": "4096"}, func(c Config) any { return c.IntakeMaxBodyBytes }, int64(4096)},
		{"rate limit off", map[string]string{"INTAKE_RATE_LIMIT": "0"}, func(c Config) any { return c.IntakeRateLimit }, 0},
		{"rate window", map[string]string{"INTAKE_RATE_WINDOW": "1000"}, func(c Config) any { return c.IntakeRateWindow }, time.Second},
		{"status ttl", map[string]string{"APPLICATION_STATUS_TTL": "3600000"}, func(c Config) any { return c.ApplicationStatusTTL }, time.Hour},
		{"admin token", map[string]string{"ADMIN_TOKEN": strings.Repeat("k", 40)},
			func(c Config) any { return c.AdminToken.Reveal() }, strings.Repeat("k", 40)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustLoad(t, tc.vars)
			if got := tc.got(c); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestLoadRejectsIntakeSettings(t *testing.T) {
	for _, tc := range []struct {
		name, v, value, reason string
	}{
		{"bool", "INTAKE_ENABLED", "maybe", "true or false"},
		{"wildcard origin", "INTAKE_CORS_ORIGINS", "*", "origin"},
		{"origin with path", "INTAKE_CORS_ORIGINS", "https://app.example.com/app", "origin"},
		{"origin without scheme", "INTAKE_CORS_ORIGINS", "app.example.com", "origin"},
		{"proxy", "INTAKE_TRUSTED_PROXIES", "nginx", "CIDR"},
		{"body too small", "INTAKE_MAX_BODY_BYTES", "10", "between 256 and 1048576"},
		{"negative rate", "INTAKE_RATE_LIMIT", "-1", "between"},
		{"window", "INTAKE_RATE_WINDOW", "1m", "milliseconds"},
		{"short admin token", "ADMIN_TOKEN", "short-token", "at least 32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := loadErr(t, map[string]string{tc.v: tc.value})
			if len(e.Problems) != 1 || e.Problems[0].Var != tc.v || !strings.Contains(e.Problems[0].Reason, tc.reason) {
				t.Fatalf("problems %+v, want one naming %s with %q", e.Problems, tc.v, tc.reason)
			}
		})
	}
}

func TestAdminTokenNeverPrinted(t *testing.T) {
	const token = "sekrit-sekrit-sekrit-sekrit-sekrit"
	c := mustLoad(t, map[string]string{"ADMIN_TOKEN": token})
	if f := c.LogFields(); f["ADMIN_TOKEN"] != "[redacted]" {
		t.Fatalf("LogFields ADMIN_TOKEN = %#v", f["ADMIN_TOKEN"])
	}
	if f := mustLoad(t, nil).LogFields(); f["ADMIN_TOKEN"] != "" {
		t.Fatalf("unset token shown as %#v", f["ADMIN_TOKEN"])
	}
	e := loadErr(t, map[string]string{"ADMIN_TOKEN": "sekrit"})
	if strings.Contains(e.Error(), "sekrit") {
		t.Fatalf("error %q shows the token", e.Error())
	}
}
