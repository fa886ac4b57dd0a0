package config

import (
	"errors"
	"os"
	"reflect"
	"testing"
)

// TestLoadFromMatchesLoad: LoadFrom through os.LookupEnv gives what Load
// gives (Load is that since issue 20's table of variables; it read through
// envconfig before), for defaults, for every variable set, and for a
// rejection; and LoadFrom through a map reads the map, not the process
// environment.
func TestLoadFromMatchesLoad(t *testing.T) {
	every := map[string]string{
		"REDIS_URL": "redis://:pw@10.0.0.1:6380/2", "REDIS_MODE": "single", "REDIS_QUEUE_STREAM_KEY": "s",
		"REDIS_QUEUE_APPLICATION_ID": "g", "REDIS_QUEUE_CONSUMER_ID": "c", "REDIS_QUEUE_CLAIM_IDLE": "90000",
		"MAX_ENTRY_CLAIMS": "3", "DEAD_LETTER_STREAM_KEY": "d", "REDIS_READ_BLOCK_TIMEOUT": "1000",
		"PROCESSOR_ACCOUNT_INDEX": "0,3-5", "MAX_FEE_PER_GAS": "40000000000", "MAX_PRIORITY_FEE_PER_GAS": "1000",
		"CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS": "3", "CHAIN_POLL_INTERVAL": "500", "LEASE_TTL": "20000",
		"PORT": "4000", "LOG_LEVEL": "warn", "INTAKE_ENABLED": "true", "ADMIN_TOKEN": "0123456789abcdef0123456789abcdef",
	}
	for _, tc := range []struct {
		name string
		vars map[string]string
	}{
		{"defaults", nil},
		{"every kind of variable set", every},
		{"rejected", map[string]string{"PORT": "0", "PROCESSOR_ACCOUNT_INDEX": "2-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setEnv(t, tc.vars)
			want, wantErr := Load()
			got, gotErr := LoadFrom(os.LookupEnv)
			if !reflect.DeepEqual(got, want) || (gotErr == nil) != (wantErr == nil) {
				t.Fatalf("LoadFrom = %+v, %v\nLoad     = %+v, %v", got, gotErr, want, wantErr)
			}
			var ge, we *Error
			if errors.As(gotErr, &ge) && errors.As(wantErr, &we) && !reflect.DeepEqual(ge.Problems, we.Problems) {
				t.Fatalf("problems %v, want %v", ge.Problems, we.Problems)
			}
		})
	}

	setEnv(t, map[string]string{"PORT": "5000"})
	vars := map[string]string{"CHAIN_RPC_URL": testRPC, "DEPEG_PRODUCT_ADDRESS": testAddress,
		"PROCESSOR_MNEMONIC": testMnemonic, "PORT": "6000"}
	c, err := LoadFrom(func(name string) (string, bool) { v, ok := vars[name]; return v, ok })
	if err != nil || c.Port != 6000 {
		t.Fatalf("LoadFrom(map) port %d, %v; want 6000 from the map, not 5000 from the environment", c.Port, err)
	}
}
