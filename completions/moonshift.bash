# bash completion for moonshift (installed as
# /usr/share/bash-completion/completions/moonshift).
_moonshift() {
    local cur prev words cword
    _init_completion 2>/dev/null || {
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD-1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    }
    local commands="init new status up down redo baseline repair history wait local check verify
        run lint plan backup promote import convert notify diff drift seed backfill testdb dashboard fleet help"
    local globals="--env -e --config -c --url --migrations-dir --json --yes -y --verbose -v
        --quiet -q --no-color --report --help -h --version"

    case $prev in
        --config|-c|--report) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --out) COMPREPLY=($(compgen -d -- "$cur")); return ;;
        --migrations-dir) COMPREPLY=($(compgen -d -- "$cur")); return ;;
        --env|-e)
            local envs
            envs=$(sed -n 's/^\[env\.\([A-Za-z0-9_-]*\)\]$/\1/p' moonshift.toml 2>/dev/null)
            COMPREPLY=($(compgen -W "$envs" -- "$cur")); return ;;
        --url|--to|--steps|-n|--reason|--from|--timeout|--older-than|--port|--listen|--refresh|--runs) return ;;
    esac

    local cmd="" sub="" i
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            -*) ;;
            *) if [[ -z $cmd ]]; then cmd=${words[i]}; elif [[ -z $sub ]]; then sub=${words[i]}; fi ;;
        esac
    done

    local opts=""
    case $cmd in
        "") COMPREPLY=($(compgen -W "$commands $globals" -- "$cur")); return ;;
        help) COMPREPLY=($(compgen -W "$commands" -- "$cur")); return ;;
        status) opts="--exit-code --all" ;;
        up) opts="--to --single-transaction --out-of-order --dry-run" ;;
        down) opts="--steps -n --to --dry-run --restore-backup" ;;
        new) opts="--timestamp" ;;
        repair) opts="--reason" ;;
        history) opts="--limit -n --all" ;;
        wait) opts="--timeout" ;;
        lint) opts="--offline --rules" ;;
        plan) opts="--to" ;;
        promote) opts="--from --to --version" ;;
        import) opts="--from" ;;
        convert) opts="--to" ;;
        drift) opts="--scratch" ;;
        seed) opts="--dry-run" ;;
        testdb)
            [[ -z $sub ]] && { COMPREPLY=($(compgen -W "drop prune --seed --keep $globals" -- "$cur")); return; }
            [[ $sub == prune ]] && opts="--older-than --kept --templates --dry-run" ;;
        dashboard) opts="--port --listen --out --refresh --runs" ;;
        run) COMPREPLY=($(compgen -f -X '!*.lua' -- "$cur") $(compgen -d -- "$cur")); return ;;
        local) [[ -z $sub ]] && { COMPREPLY=($(compgen -W "start stop status url reset" -- "$cur")); return; } ;;
        backup) [[ -z $sub ]] && { COMPREPLY=($(compgen -W "list create restore prune" -- "$cur")); return; } ;;
        notify) [[ -z $sub ]] && { COMPREPLY=($(compgen -W "test list" -- "$cur")); return; } ;;
        backfill) [[ -z $sub ]] && { COMPREPLY=($(compgen -W "status pause resume" -- "$cur")); return; } ;;
        fleet) [[ -z $sub ]] && { COMPREPLY=($(compgen -W "up down status plan" -- "$cur")); return; }
            opts="--jobs -j --connections --all-targets --to --steps -n" ;;
    esac
    COMPREPLY=($(compgen -W "$opts $globals" -- "$cur"))
}
complete -F _moonshift moonshift
