# fish completion for moonshift (installed in /usr/share/fish/vendor_completions.d).
set -l commands init new status up down redo baseline repair history wait local check verify run lint plan backup promote import convert notify diff drift seed backfill testdb dashboard fleet help
complete -c moonshift -f
complete -c moonshift -n "not __fish_seen_subcommand_from $commands" -a "$commands"
complete -c moonshift -s e -l env -r -d 'environment from moonshift.toml'
complete -c moonshift -s c -l config -r -F -d 'path of moonshift.toml'
complete -c moonshift -l url -r -d 'database URL'
complete -c moonshift -l migrations-dir -r -a '(__fish_complete_directories)' -d 'migrations directory'
complete -c moonshift -l json -d 'machine-readable output'
complete -c moonshift -s y -l yes -d 'answer yes to confirmations'
complete -c moonshift -s v -l verbose -d 'more detail'
complete -c moonshift -s q -l quiet -d 'only errors and warnings'
complete -c moonshift -l no-color -d 'no colours'
complete -c moonshift -l report -r -F -d 'write a Markdown report of the run'
complete -c moonshift -l version -d 'the version'
complete -c moonshift -n "__fish_seen_subcommand_from status" -l exit-code -d 'non-zero when something is pending or changed'
complete -c moonshift -n "__fish_seen_subcommand_from status" -l all -d 'every environment side by side'
complete -c moonshift -n "__fish_seen_subcommand_from up" -l to -r -d 'up to this version'
complete -c moonshift -n "__fish_seen_subcommand_from up" -l single-transaction -d 'one transaction'
complete -c moonshift -n "__fish_seen_subcommand_from up" -l out-of-order -d 'also older pending versions'
complete -c moonshift -n "__fish_seen_subcommand_from up down seed" -l dry-run -d 'change nothing'
complete -c moonshift -n "__fish_seen_subcommand_from down" -s n -l steps -r -d 'how many'
complete -c moonshift -n "__fish_seen_subcommand_from down" -l restore-backup -d 'restore the backups'
complete -c moonshift -n "__fish_seen_subcommand_from run" -F
complete -c moonshift -n "__fish_seen_subcommand_from local" -a "start stop status url reset"
complete -c moonshift -n "__fish_seen_subcommand_from backup" -a "list create restore prune"
complete -c moonshift -n "__fish_seen_subcommand_from notify" -a "test list"
complete -c moonshift -n "__fish_seen_subcommand_from backfill" -a "status pause resume"
complete -c moonshift -n "__fish_seen_subcommand_from testdb" -a "drop prune"
complete -c moonshift -n "__fish_seen_subcommand_from testdb" -l seed -d 'the template holds the seeds'
complete -c moonshift -n "__fish_seen_subcommand_from testdb" -l keep -d 'testdb prune leaves it'
complete -c moonshift -n "__fish_seen_subcommand_from prune" -l older-than -r -d 'minutes'
complete -c moonshift -n "__fish_seen_subcommand_from prune" -l kept -d 'also databases made with --keep'
complete -c moonshift -n "__fish_seen_subcommand_from prune" -l templates -d 'also the templates'
complete -c moonshift -n "__fish_seen_subcommand_from prune" -l dry-run -d 'change nothing'
complete -c moonshift -n "__fish_seen_subcommand_from fleet" -a "up down status plan"
complete -c moonshift -n "__fish_seen_subcommand_from fleet" -s j -l jobs -r -d 'targets at once'
complete -c moonshift -n "__fish_seen_subcommand_from fleet" -l connections -r -d 'targets at once per server'
complete -c moonshift -n "__fish_seen_subcommand_from help" -a "$commands"
complete -c moonshift -n "__fish_seen_subcommand_from dashboard" -l port -r -d 'TCP port (0 picks one)'
complete -c moonshift -n "__fish_seen_subcommand_from dashboard" -l listen -r -d 'address to listen on (default 127.0.0.1)'
complete -c moonshift -n "__fish_seen_subcommand_from dashboard" -l out -r -a "(__fish_complete_directories)" -d 'write static files instead of serving'
complete -c moonshift -n "__fish_seen_subcommand_from dashboard" -l refresh -r -d 'seconds between refreshes'
complete -c moonshift -n "__fish_seen_subcommand_from dashboard" -l runs -r -d 'runs per environment in its history'
