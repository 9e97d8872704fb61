#!/usr/bin/env bash
# Make nltk read WordNet 3.0 from Debian's wordnet-base package (no nltk download needed).
#
# Used by the METEOR reference tests (tests/reference/test_meteor_reference.py) and by
# scripts/build_wordnet_table.py. Idempotent: re-running it only checks what is there.
#
# Usage (from .ci/run):   eval "$(.ci/setup_wordnet.sh)"     # exports NLTK_DATA
# or:                     export NLTK_DATA="$(.ci/setup_wordnet.sh --print-dir)"
# The folder defaults to /tmp/himed_nltk_data; override with HIMED_NLTK_DATA=<dir>.
set -euo pipefail

target="${HIMED_NLTK_DATA:-/tmp/himed_nltk_data}"
wordnet_dir="${target}/corpora/wordnet"
debian_dir=/usr/share/wordnet

if [ ! -f "${debian_dir}/data.noun" ] || [ ! -f /usr/share/man/man5/lexnames.5WN.gz ]; then
    echo "installing wordnet-base wordnet-sense-index from Debian" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends wordnet-base wordnet-sense-index >&2
fi

mkdir -p "${wordnet_dir}"
for f in "${debian_dir}"/*.exc "${debian_dir}"/data.* "${debian_dir}"/index.* \
         "${debian_dir}"/cntlist.rev; do
    name="$(basename "${f}")"
    if ! cmp -s "${f}" "${wordnet_dir}/${name}"; then
        cp "${f}" "${wordnet_dir}/${name}"
    fi
done

# nltk needs a `lexnames` file (45 lines "NN<TAB>name<TAB>pos-number"); Debian keeps the list
# only in the lexnames(5WN) man page, as table rows "NN<TAB>name<TAB>description". The pos
# number follows from the name's prefix: noun 1, verb 2, adj 3, adv 4.
zcat /usr/share/man/man5/lexnames.5WN.gz | awk -F'\t' '
    $1 ~ /^[0-9][0-9]$/ {
        name = $2; gsub(/[[:space:]]+/, "", name)
        split(name, parts, ".")
        pos = (parts[1] == "noun") ? 1 : (parts[1] == "verb") ? 2 : (parts[1] == "adj") ? 3 : 4
        printf "%s\t%s\t%d\n", $1, name, pos
    }' > "${wordnet_dir}/lexnames.tmp"
lines="$(wc -l < "${wordnet_dir}/lexnames.tmp")"
if [ "${lines}" != "45" ]; then
    echo "expected 45 lexnames from the man page, got ${lines}" >&2
    exit 1
fi
mv "${wordnet_dir}/lexnames.tmp" "${wordnet_dir}/lexnames"

if [ "${1:-}" = "--print-dir" ]; then
    echo "${target}"
else
    echo "export NLTK_DATA=${target}"
fi
