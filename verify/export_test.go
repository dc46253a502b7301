package verify

// NoJitter makes s's deliveries begin without their random pause, for
// tests that make many and wait for each.
func NoJitter(s *Service) { s.noJitter = true }
