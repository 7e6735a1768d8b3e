package memory_test

import (
	"testing"

	"github.com/keygate/keygate/service/store"
	"github.com/keygate/keygate/service/store/memory"
	"github.com/keygate/keygate/service/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return memory.New() })
}
