# Sourced by bench/embed.sh and bench/train_step.sh: MODEL (a folder, `~` allowed, or a Hub id;
# empty for attune's default) becomes MODEL_ARGS, the same `--model` for both engines.
MODEL=${MODEL:-}
MODEL_ARGS=()
if [[ -n $MODEL ]]; then
  MODEL=${MODEL/#\~/$HOME}
  if [[ -d $MODEL ]]; then MODEL=$(cd "$MODEL" && pwd); fi
  MODEL_ARGS=(--model "$MODEL")
fi
