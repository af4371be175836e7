"""`python -m archive.policy [DIR]`: the policy check (`archive policy check` wraps the same)."""

from archive.policy.check import main

raise SystemExit(main())
