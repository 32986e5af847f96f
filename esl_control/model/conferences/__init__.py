"""Conference rooms: numbers from 1000 in the PBX extension namespace, seats, who may join, PIN."""
