"""Audio stages of the spoken loop: speak the question (tts), record the answer (recorder + vad), WAV files.

Nothing here imports sounddevice, pyttsx3 or piper at import time; each backend loads its library in its
constructor or first call.
"""
