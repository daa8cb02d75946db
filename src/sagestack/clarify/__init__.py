"""SageMaker Clarify, computed here: bias metrics (pre- and post-training), Kernel SHAP explanations,
partial dependence, the analysis.json / report files a Clarify processing job writes, and the online
explainer behind endpoints with a ``ClarifyExplainerConfig``. Pure analysis code (pandas, numpy, shap);
the job entry (:mod:`.job`) reaches models through the server's API like any job's code."""
