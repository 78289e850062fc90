from basepin.cli import main

raise SystemExit(main())
