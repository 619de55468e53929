"""sora_nb benchmarks: each module's ``main()`` measures a ratio against a baseline run in
the same process, so the figures hold on any machine. ``make bench`` runs them all."""
