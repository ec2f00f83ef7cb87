//go:build goexperiment.simd && amd64

package runtime

import (
	goruntime "runtime"
	"sync/atomic"
	"time"
)

// A team is the goroutines that run the other parts of one ConvScratch's
// split calls (part g on helper g-1; the caller runs part 0).
//
// One image through a convnet is a chain of short parallel sections (a
// layer takes 0.1-1 ms) separated by short serial ones. Handing each part
// to a goroutine parked on a channel costs the wake-up of an idle CPU,
// measured at about 30 µs on a virtual machine, and a run of several
// sections at that cost was slower on two cores than on one. So a helper,
// once woken, spins on its slot for up to teamSpin after its last part
// before it parks again: the sections of one pass reach it in well under
// a microsecond. The parts write disjoint outputs, so the results do not
// depend on how many helpers there are or when they run.
type team struct {
	slots []*teamSlot
}

// teamSpin is how long an idle helper spins before it parks.
const teamSpin = time.Millisecond

// The states of a team slot.
const (
	slotIdle   = iota // no part, or its part is done
	slotPosted        // job is posted and not yet done
)

type teamSlot struct {
	state atomic.Uint32
	// parked is true while the helper waits on wake (or is about to);
	// whoever clears it (the poster, by CompareAndSwap, or the helper
	// itself) decides whether a wake-up is sent.
	parked atomic.Bool
	wake   chan struct{}
	job    tileJob
	_      [64]byte
}

// helpers returns the team's slots for par parts, starting helpers as
// needed. They live until the ConvScratch is collected.
func (s *ConvScratch) helpers(par int) []*teamSlot {
	if s.team == nil {
		s.team = &team{}
		goruntime.AddCleanup(s, func(t *team) {
			for _, sl := range t.slots {
				close(sl.wake)
			}
		}, s.team)
	}
	t := s.team
	for len(t.slots) < par-1 {
		sl := &teamSlot{wake: make(chan struct{}, 1)}
		t.slots = append(t.slots, sl)
		go sl.serve()
	}
	return t.slots[:par-1]
}

// post hands j to the slot's helper.
func (sl *teamSlot) post(j tileJob) {
	sl.job = j
	sl.state.Store(slotPosted)
	if sl.parked.CompareAndSwap(true, false) {
		sl.wake <- struct{}{}
	}
}

// wait returns when the slot's part is done. It spins at first, since the
// parts of a split are about the same size, and then yields its CPU, so
// that a helper waiting for one cannot be kept from running.
func (sl *teamSlot) wait() {
	for i := 0; sl.state.Load() != slotIdle; i++ {
		if i > 1<<12 {
			goruntime.Gosched()
		}
	}
}

// serve runs the slot's parts until its wake channel is closed.
func (sl *teamSlot) serve() {
	last := time.Now()
	for i := 0; ; i++ {
		if sl.state.Load() == slotPosted {
			sl.job.run()
			sl.job = tileJob{}
			sl.state.Store(slotIdle)
			last, i = time.Now(), 0
			continue
		}
		if i%64 != 63 {
			continue
		}
		if time.Since(last) < teamSpin {
			// Let other goroutines have this CPU meanwhile: with several
			// Predict calls at once, their teams share the cores, and a
			// helper that kept spinning would hold its CPU until Go
			// preempts it (10 ms).
			goruntime.Gosched()
			continue
		}
		sl.parked.Store(true)
		if sl.state.Load() == slotPosted && sl.parked.CompareAndSwap(true, false) {
			continue
		}
		if _, ok := <-sl.wake; !ok {
			return
		}
		last, i = time.Now(), 0
	}
}
