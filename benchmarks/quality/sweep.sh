#!/usr/bin/env bash
# The sweep that chose the settings in *.conf: 16 `rnnseq train` runs at once on one
# H200 GPU (one process per configuration, 430 s each; results in docs/RESULTS.md).
# DATA must hold the five datasets as in ../shared/data, plus shak/train.txt and
# shak/val.txt (tiny Shakespeare cut 90/10 as run.py does).
# env: DATA (data folder), DEV (cuda|cpu), LIMIT (seconds per run), EXTRA (more args),
#      R (runs folder), PY (python with rnnseq importable)
set -u
PY=${PY:-python3}
R=${R:-/tmp/r}; mkdir -p $R
LIMIT=${LIMIT:-400}
DEV=${DEV:-cuda}
EXTRA=${EXTRA:-}
D=$DATA
job() {
  name=$1; shift
  OMP_NUM_THREADS=1 timeout $LIMIT $PY -m rnnseq train "$@" --out $R/$name --overwrite --device $DEV --threads 1 --seed 1 $EXTRA > $R/$name.log 2>&1 &
}
SH="--task lm --train $D/shak/train.txt --dev $D/shak/val.txt --bptt 128 --batch-size 64 --embedding-dim 128 --lr 2e-3 --epochs 30"
job S1 $SH --hidden 512 --layers 2 --dropout 0.2
job S2 $SH --hidden 512 --layers 3 --dropout 0.3
job S3 $SH --hidden 384 --layers 2 --dropout 0.2
job S4 $SH --hidden 512 --layers 2 --dropout 0.2 --cell gru
PT="--task lm --unit word --train $D/ptb_word/ptb.train.txt --dev $D/ptb_word/ptb.valid.txt --bptt 35 --min-freq 1"
job P1 $PT --hidden 200 --embedding-dim 200 --layers 2 --dropout 0 --optimizer sgd --lr 1 --clip 5 --batch-size 20 --schedule exponential --lr-decay 0.5 --decay-start 4 --epochs 13 --patience 0
job P2 $PT --hidden 256 --embedding-dim 256 --layers 2 --tie-embeddings --dropout 0.4 --lr 2e-3 --batch-size 32 --epochs 15
job P3 $PT --hidden 400 --embedding-dim 400 --layers 2 --tie-embeddings --dropout 0.5 --lr 1e-3 --batch-size 32 --epochs 15
job P4 $PT --hidden 512 --embedding-dim 512 --layers 1 --tie-embeddings --dropout 0.5 --lr 1e-3 --batch-size 32 --epochs 15
EW="--task tag --train $D/ud_english_ewt/en_ewt-ud-train.conllu --dev $D/ud_english_ewt/en_ewt-ud-dev.conllu --lowercase --min-freq 1 --word-dropout 0.25 --dropout 0.33 --embedding-dim 100 --epochs 20 --lr 2e-3 --batch-size 32"
job E1 $EW --char-features lstm --hidden 200 --layers 2
job E2 $EW --char-features cnn --hidden 200 --layers 2
job E3 $EW --char-features lstm --hidden 256 --layers 1
CO="--task tag --format conll --train $D/conll2003/eng.train --dev $D/conll2003/eng.testa --tag-scheme iobes --min-freq 1 --dropout 0.5 --word-dropout 0.1 --embedding-dim 100 --epochs 30 --lr 1e-3 --batch-size 16"
job C1 $CO --loss crf --char-features lstm --hidden 200 --lowercase
job C2 $CO --loss ce --char-features lstm --hidden 200 --lowercase
job C3 $CO --loss crf --char-features cnn --hidden 256 --layers 2
SS="--task classify --format tsv --train $D/sst2/sentiment-train --dev $D/sst2/sentiment-dev --min-freq 1 --pooling max --epochs 10 --batch-size 64 --lr 1e-3"
job T1 $SS --hidden 256 --embedding-dim 300 --dropout 0.5 --word-dropout 0.2
job T2 $SS --hidden 150 --layers 2 --embedding-dim 300 --dropout 0.5 --word-dropout 0.1
wait
