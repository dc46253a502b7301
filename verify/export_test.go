package verify

// NoJitter makes e's deliveries begin without their random pause, for
// tests that make many and wait for each.
func NoJitter(e *Engine) { e.noJitter = true }
