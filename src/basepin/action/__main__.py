from basepin.action.run import main

raise SystemExit(main())
