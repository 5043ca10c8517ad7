"""The product's own mocks: a fake OpenAI Realtime upstream and a mock voice backend (the system
under test). Both fail on command, reproducibly, from a seeded random.Random."""
