"""Sound files: uploads checked by content (WAV PCM or MP3, ≤ 32 MB), built-in melodies, in-use guard."""
