"""hookline's benchmark harness (bench/run): hookline against the senders a
user would pick instead, side by side, against the same receiver."""
