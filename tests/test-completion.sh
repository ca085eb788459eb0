#!/usr/bin/env bash
# The bash completion script (scripts/bash-completion/h2k), run by
# bash-completion itself: options come from each program's --long-options,
# values from the lists it knows, file names otherwise.
. "$(dirname "$0")/functions.sh"
requires test -r /usr/share/bash-completion/bash_completion

# complete_line LINE: what completing the end of LINE offers, one a line.
complete_line ()
{
  bash --norc -c '
    . /usr/share/bash-completion/bash_completion
    . "$H2K_TOP/scripts/bash-completion/h2k"
    line=$1
    read -ra COMP_WORDS <<< "$line"
    [[ "$line" == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
    COMP_LINE=$line COMP_POINT=${#line}
    _h2k "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf "%s\n" "${COMPREPLY[@]}"
  ' bash "$1"
}

for p in $(cd "$H2K_TOP/cmd" && ls); do
  got=$(complete_line "$p --" | sort)
  want=$("$p" --long-options | sort)
  is "$p --<TAB> offers every long option" "$got" "$want"
done
is "vs-pull --sk<TAB>" "$(complete_line 'vs-pull --sk')" "--skip-zero"
is "vs-ls --type <TAB>" "$(complete_line 'vs-ls --type ' | tr '\n' ' ')" \
  "vm datastore host datacenter network "
is "img-convert -O <TAB>" "$(complete_line 'img-convert -O ' | tr '\n' ' ')" "qcow2 raw "
cd "$tmp" && touch "disk one.vmdk" other.raw
is "a file argument completes file names" "$(complete_line 'vmdk-flatten dis')" "disk one.vmdk"
