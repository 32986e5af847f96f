"""Groups (seed 000 «Списки дозвона», seed 002 «Группы»): members, strategy, queue and features."""
